#!/usr/bin/env bash
# Build kube-apiserver, etcd and kubectl for the API-server integration tests from the Go module proxy.
#
# The versions come from tools/kube/go.mod (k8s.io/kubernetes with every staging module replaced by its published
# v0.x.y, plus go.etcd.io/etcd/server/v3). Binaries go to .cache/kube/<kubernetes version>/bin/ (ignored by git);
# a binary already there is not rebuilt, so this is cheap to call before every test session.
#
# DNSDR_KUBE_ASSETS=DIR: use the kube-apiserver, etcd and kubectl already in DIR and build nothing.
# DNSDR_KUBE_BUILD_JOBS=N: go build -p N (default 1: the compiler already runs its back end on both cores of a
#   2-core machine; a cold etcd build took 50 s with -p 1 and 56 s with -p 2 there, and -p 2 holds more in memory).
#
# The last line of output is always the bin directory (everything else goes to stderr).
# Exit status: 0 built or found; 3 go is missing (this machine cannot build them); anything else, the build failed.
# Cold build on a shared 2-core machine (2026-11-30): about 0.8 GB of modules, 2.4 GB of build cache and 8 minutes
# (kube-apiserver 7 min, etcd 16 s, kubectl 54 s after kube-apiserver); later runs do nothing.
set -euo pipefail

BINARIES=(kube-apiserver etcd kubectl)

die() {
  echo "build-kube: $*" >&2
  exit 1
}

if [ -n "${DNSDR_KUBE_ASSETS:-}" ]; then
  [ -d "$DNSDR_KUBE_ASSETS" ] || die "DNSDR_KUBE_ASSETS=$DNSDR_KUBE_ASSETS is not a directory"
  for b in "${BINARIES[@]}"; do
    [ -x "$DNSDR_KUBE_ASSETS/$b" ] || die "DNSDR_KUBE_ASSETS=$DNSDR_KUBE_ASSETS has no executable $b"
  done
  cd "$DNSDR_KUBE_ASSETS" && pwd
  exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE="$ROOT/tools/kube"
VERSION=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$MODULE/go.mod")
[ -n "$VERSION" ] || die "no k8s.io/kubernetes requirement in $MODULE/go.mod"
BIN="$ROOT/.cache/kube/$VERSION/bin"

missing=()
for b in "${BINARIES[@]}"; do
  [ -x "$BIN/$b" ] || missing+=("$b")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-kube: go is not installed: cannot build ${missing[*]} (install Go >= 1.25, or set DNSDR_KUBE_ASSETS to a directory holding kube-apiserver, etcd and kubectl)" >&2
  exit 3
fi

mkdir -p "$BIN"
# One build at a time per checkout: a second caller waits, then finds the binaries present.
exec 9>"$ROOT/.cache/kube/.build.lock"
flock 9

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
JOBS=${DNSDR_KUBE_BUILD_JOBS:-1}
# kube-apiserver and kubectl report this version (/version, kubectl version) instead of v0.0.0-master.
LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitTreeState=clean"
  LDFLAGS+=" -X $pkg.gitMajor=$(echo "${VERSION#v}" | cut -d. -f1) -X $pkg.gitMinor=$(echo "$VERSION" | cut -d. -f2)"
done

package_of() {
  case "$1" in
    kube-apiserver) echo k8s.io/kubernetes/cmd/kube-apiserver ;;
    kubectl) echo k8s.io/kubernetes/cmd/kubectl ;;
    etcd) echo go.etcd.io/etcd/server/v3 ;;
  esac
}

cd "$MODULE"
for b in "${BINARIES[@]}"; do
  [ -x "$BIN/$b" ] && continue # built by a caller that held the lock before us
  pkg=$(package_of "$b")
  echo "build-kube: building $b ($pkg, kubernetes $VERSION) into $BIN" >&2
  start=$SECONDS
  # Build to a temporary name and rename, so an interrupted build never leaves a binary that looks complete.
  nice -n 19 go build -p "$JOBS" -trimpath -ldflags="$LDFLAGS" -o "$BIN/.$b.tmp" "$pkg" >&2
  mv -f "$BIN/.$b.tmp" "$BIN/$b"
  echo "build-kube: $b built in $((SECONDS - start)) s ($(du -h "$BIN/$b" | cut -f1))" >&2
done
echo "$BIN"
