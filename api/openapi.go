// Package api carries the history-server's HTTP contract: the OpenAPI 3
// document in openapi.yaml, embedded so the server can serve it and
// tests can validate real traffic against it.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document (YAML), byte for byte openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
