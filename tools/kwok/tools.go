//go:build tools

// Package tools pins the module this tool is built from.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
