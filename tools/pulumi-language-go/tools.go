//go:build tools

// Package tools pins the module the Go language host is built from: the last
// sdk/v3 release that still carries it as a package.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go"
