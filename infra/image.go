package infra

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// GoImageType is the token of the goimage provider's image resource
// (provider/goimage, built into .tools/bin and registered in Pulumi.yaml).
const GoImageType = "goimage:index:Image"

// GoImageArgs are the inputs of a GoImage.
type GoImageArgs struct {
	// Context is the directory `go build` runs in, relative to the Pulumi
	// project (the provider runs there); default ".".
	Context string
	// Main is the main package, e.g. "./apps/history-server".
	Main string
	// Binary is the binary's name in the image (/app/<Binary>); default the
	// package's last path element.
	Binary string
	// Repository is where the image is pushed, e.g.
	// docker.io/<user>/history-server.
	Repository string
	// Platforms default to linux/amd64.
	Platforms []string
	// Ports the image config exposes.
	Ports []int
	// Annotations of the manifest (OCI image annotations).
	Annotations map[string]string
	// RegistryUsername and RegistryPassword (a secret) log in to the
	// registry; without them the provider uses the Docker config.
	RegistryUsername string
	RegistryPassword pulumi.StringInput
}

// GoImage is a Go main package built into an OCI image and pushed to a
// registry by digest. Digest and Ref are known in preview too.
type GoImage struct {
	pulumi.CustomResourceState

	// Digest is the manifest's (or index's) digest, sha256:….
	Digest pulumi.StringOutput `pulumi:"digest"`
	// Ref is repository@sha256:…, what a container's image field takes.
	Ref pulumi.StringOutput `pulumi:"ref"`
}

// NewGoImage registers a goimage:index:Image.
func NewGoImage(ctx *pulumi.Context, name string, args *GoImageArgs, opts ...pulumi.ResourceOption) (*GoImage, error) {
	if args == nil || args.Main == "" || args.Repository == "" {
		return nil, fmt.Errorf("goimage %s: Main and Repository are required", name)
	}
	props := pulumi.Map{
		"main":       pulumi.String(args.Main),
		"repository": pulumi.String(args.Repository),
	}
	if args.Context != "" {
		props["context"] = pulumi.String(args.Context)
	}
	if args.Binary != "" {
		props["binary"] = pulumi.String(args.Binary)
	}
	if len(args.Platforms) > 0 {
		props["platforms"] = pulumi.ToStringArray(args.Platforms)
	}
	if len(args.Ports) > 0 {
		props["ports"] = pulumi.ToIntArray(args.Ports)
	}
	if len(args.Annotations) > 0 {
		props["annotations"] = pulumi.ToStringMap(args.Annotations)
	}
	if args.RegistryUsername != "" {
		props["registryUsername"] = pulumi.String(args.RegistryUsername)
	}
	if args.RegistryPassword != nil {
		props["registryPassword"] = pulumi.ToSecret(args.RegistryPassword)
	}
	img := &GoImage{}
	if err := ctx.RegisterResource(GoImageType, name, props, img, opts...); err != nil {
		return nil, err
	}
	return img, nil
}

// Image stack config keys (README "Images").
const (
	keyImageRepository       = "imageRepository"
	keyImageRegistryUsername = "imageRegistryUsername"
	keyImageRegistryPassword = "imageRegistryPassword"
	keyImagePlatforms        = "imagePlatforms"
	keyImageSource           = "imageSource"
	keyImageRevision         = "imageRevision"
)

var (
	// repositoryRe is a registry/path prefix such as docker.io/someone or
	// localhost:5000/lab5 (lower case, no tag or digest).
	repositoryRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
	platformRe   = regexp.MustCompile(`^linux/[a-z0-9]+(/v[0-9])?$`)
)

// ImageConfig is where and how the apps' images are built and pushed.
type ImageConfig struct {
	// Repository is the prefix of the apps' repositories:
	// <Repository>/history-server, <Repository>/price-fetcher.
	Repository string
	// RegistryUsername and RegistryPassword (secret) log in to the
	// registry; empty: the Docker config (~/.docker/config.json).
	RegistryUsername string
	RegistryPassword pulumi.StringInput
	// Platforms of the images; default linux/amd64.
	Platforms []string
	// Source and Revision become the org.opencontainers.image.source and
	// .revision annotations when set.
	Source, Revision string
}

// loadImageConfig reads the image keys into c.Images, once the pins
// (historyServerImage, priceFetcherImage) are read: the repository is
// needed only when an app image is built, i.e. not pinned.
func loadImageConfig(ctx *pulumi.Context, r *configReader, c *Config) {
	ic := &c.Images
	ic.Repository = strings.TrimSuffix(r.str(keyImageRepository, ""), "/")
	ic.RegistryUsername = r.str(keyImageRegistryUsername, "")
	ic.Source = r.str(keyImageSource, "")
	ic.Revision = r.str(keyImageRevision, "")
	for _, p := range strings.Split(r.str(keyImagePlatforms, "linux/amd64"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !platformRe.MatchString(p) {
			r.fail(keyImagePlatforms, "must be a comma-separated list of linux platforms such as linux/amd64,linux/arm64, got %q", p)
			continue
		}
		ic.Platforms = append(ic.Platforms, p)
	}

	building := c.HistoryServerImage == "" || c.PriceFetcherImage == ""
	switch {
	case ic.Repository == "" && building:
		r.fail(keyImageRepository, "is required to build the apps' images: set it to your registry and user, "+
			"e.g. `pulumi config set %s docker.io/<dockerhub-user>`, or pin both %s and %s to prebuilt images",
			keyImageRepository, keyHistoryServerImage, keyPriceFetcherImage)
	case ic.Repository != "" && !repositoryRe.MatchString(ic.Repository):
		r.fail(keyImageRepository, "must be a registry and path in lower case such as docker.io/<dockerhub-user> "+
			"or localhost:5000/lab5 (no tag, no scheme), got %q", ic.Repository)
	}

	password, ok := ctx.GetConfig(r.key(keyImageRegistryPassword))
	switch {
	case ok && password != "" && ic.RegistryUsername == "":
		r.fail(keyImageRegistryPassword, "is set but %s is not: set both, or neither to use ~/.docker/config.json", keyImageRegistryUsername)
	case ic.RegistryUsername != "" && (!ok || password == ""):
		r.fail(keyImageRegistryUsername, "is set but %s is not: run `pulumi config set --secret %s <password or token>`",
			keyImageRegistryPassword, keyImageRegistryPassword)
	case ok && password != "":
		if !ctx.IsConfigSecret(r.key(keyImageRegistryPassword)) {
			r.fail(keyImageRegistryPassword, "must be a secret: run `pulumi config set --secret %s <password or token>`", keyImageRegistryPassword)
		}
		ic.RegistryPassword = pulumi.ToSecret(pulumi.String(password)).(pulumi.StringOutput)
	}
}

// optionalImage is an image key whose empty value means "build it".
func (r *configReader) optionalImage(k string) string {
	v := r.str(k, "")
	if v != "" && (!imageRe.MatchString(v) || strings.Contains(v, "://")) {
		r.fail(k, "must be a container image reference such as registry/name:tag (or empty to build it), got %q", v)
	}
	return v
}

// appImageSpec says how an app's image is built: its main package and the
// ports its config exposes. Dockerfile.server and Dockerfile.fetcher
// describe the same images (image_dockerfile_test.go).
type appImageSpec struct {
	Main  string
	Ports []int
}

var appImageSpecs = map[string]appImageSpec{
	HistoryServerName: {Main: "./apps/history-server", Ports: []int{HistoryServerPort}},
	PriceFetcherName:  {Main: "./apps/price-fetcher"},
}

// appImage is the image a workload runs: the pinned one when configured,
// else a GoImage built from the app's main package (nil then means pinned).
func appImage(ctx *pulumi.Context, cfg *Config, app string, pinned string, opts ...pulumi.ResourceOption) (pulumi.StringInput, *GoImage, error) {
	if pinned != "" {
		return pulumi.String(pinned), nil, nil
	}
	spec, ok := appImageSpecs[app]
	if !ok {
		return nil, nil, fmt.Errorf("no image spec for app %q", app)
	}
	ic := cfg.Images
	anns := map[string]string{"org.opencontainers.image.title": app}
	if ic.Source != "" {
		anns["org.opencontainers.image.source"] = ic.Source
	}
	if ic.Revision != "" {
		anns["org.opencontainers.image.revision"] = ic.Revision
	}
	img, err := NewGoImage(ctx, app, &GoImageArgs{
		Main:             spec.Main,
		Repository:       ic.Repository + "/" + app,
		Platforms:        ic.Platforms,
		Ports:            spec.Ports,
		Annotations:      anns,
		RegistryUsername: ic.RegistryUsername,
		RegistryPassword: ic.RegistryPassword,
	}, opts...)
	if err != nil {
		return nil, nil, err
	}
	return img.Ref, img, nil
}
