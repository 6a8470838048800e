//go:build tools

// Package tools pins the module the pulumi CLI is built from.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
