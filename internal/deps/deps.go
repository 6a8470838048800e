//go:build deps

package deps

import (
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/labstack/echo/v4"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/minio/minio-go/v7/pkg/credentials"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/client-go/kubernetes"
)
