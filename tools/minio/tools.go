//go:build tools

// Package tools pins the module this tool is built from.
package tools

import _ "github.com/minio/minio"
