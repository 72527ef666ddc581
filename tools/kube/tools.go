//go:build tools

// Package kubetools pins the Kubernetes server binaries that dnsdr's API-server integration tests run
// (scripts/build-kube.sh builds them into .cache/kube/<version>/bin; nothing here is ever vendored or committed
// beyond go.mod, go.sum and this file).
//
// k8s.io/kubernetes requires its staging modules at v0.0.0 and resolves them with replace => ./staging/...,
// which a consumer cannot use; go.mod therefore replaces every staging module with its published
// v0.<minor>.<patch>. The list changes between minors, so regenerate it from upstream's go.mod on a bump
// (in a fresh directory holding only this file; these commands reproduce go.mod and go.sum exactly):
//
//	export GOTOOLCHAIN=local GOFLAGS=-mod=mod K=1.35.4 M=0.35.4
//	go mod init dnsdr.invalid/kubetools
//	go mod edit -go=1.25.0 -require=k8s.io/kubernetes@v$K    # the go directive of k8s.io/kubernetes v$K
//	GM=$(go mod download -json k8s.io/kubernetes@v$K | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
//	for m in $(grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$GM" | awk '{print $1}'); do
//	    go mod edit -replace=$m=$m@v$M
//	done
//	grep go.etcd.io/etcd/server/v3 "$GM"                      # build the etcd server upstream pins
//	go mod edit -require=go.etcd.io/etcd/server/v3@v3.6.5
//	go mod tidy
//
// Commit go.sum as go mod tidy leaves it: builds do not change it, but `go list -m all` with -mod=mod adds
// some 70 go.mod hashes that tidy drops again.
package kubetools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
