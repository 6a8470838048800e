//go:build tools

// Package tools pins the module the local cluster's NetworkPolicy engine
// (kube-router's firewall controller only) is built from.
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
