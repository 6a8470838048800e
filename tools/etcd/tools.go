//go:build tools

// Package tools pins the module this tool is built from.
package tools

import _ "go.etcd.io/etcd/server/v3"
