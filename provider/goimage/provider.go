// Package goimage is a Pulumi resource provider, written with
// pulumi-go-provider's infer package, whose one resource builds a Go main
// package into an OCI image (internal/goimage) and pushes it to a registry.
//
// The image's digest is known in preview, without a push: Diff builds the
// image and compares digests, and a preview Create returns the digest and
// the pinned reference. So a preview shows exactly which workloads roll when
// an app's source changes, and `up` pushes.
package goimage

import (
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// Name is the provider's package name; resources are goimage:index:<Type>.
const Name = "goimage"

// Version is the provider's version, reported to the engine.
const Version = "0.1.0"

// Provider returns the provider, ready to serve.
func Provider() (p.Provider, error) {
	return infer.NewProviderBuilder().
		WithDisplayName("Go images").
		WithDescription("Builds Go main packages into reproducible OCI images (no Docker engine) and pushes them by digest.").
		WithNamespace("lab5").
		WithResources(infer.Resource(&Image{})).
		Build()
}
