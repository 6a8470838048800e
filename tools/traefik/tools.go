//go:build tools

// Package tools pins the module Traefik is built from (cmd/traefik), for
// the image the real node runs with ingressController=traefik. Not part of
// the default `make tools` yet (its cold build is long); by hand:
//
//	cd tools/traefik && CGO_ENABLED=0 go build -trimpath \
//	  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=v3.6.7" \
//	  -o traefik github.com/traefik/traefik/v3/cmd/traefik
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
