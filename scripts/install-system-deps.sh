#!/usr/bin/env bash
# Install the Debian packages the lab and the integration tests need, only when missing.
# Idempotent and non-interactive; needs root (or sudo) the first time.
set -euo pipefail
PACKAGES=(
  mariadb-server mariadb-client
  pdns-server pdns-backend-sqlite3
  bind9 bind9-utils bind9-dnsutils
  rabbitmq-server
  dnsperf nftables iproute2 procps psmisc
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
