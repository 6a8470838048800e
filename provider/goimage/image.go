package goimage

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	builder "github.com/lab5/k8s-networking/internal/goimage"
)

// Image is the goimage:index:Image resource: a Go main package built into
// an OCI image and pushed to a repository, addressed by digest.
//
// Lifecycle:
//   - preview: Diff builds the image (no push, no registry access) and
//     compares its digest with the state's; a new digest is a replace, and
//     the preview Create reports the new digest and ref, so workloads using
//     the ref show their update.
//   - up: Create pushes the blobs and the manifest (index), then the tags.
//   - refresh: Read asks the registry for the manifest; when it is gone the
//     resource leaves the state, and the next `up` builds and pushes it again
//     (same sources: same digest, so nothing that uses the ref changes).
//   - destroy: the pushed image stays in the registry, as with ko and
//     docker push: it may be running elsewhere, and registries clean up by
//     their own retention policies.
type Image struct{}

// ImageArgs are the inputs.
type ImageArgs struct {
	Context          string            `pulumi:"context,optional"`
	Main             string            `pulumi:"main"`
	Binary           string            `pulumi:"binary,optional"`
	Repository       string            `pulumi:"repository"`
	Platforms        []string          `pulumi:"platforms,optional"`
	Ports            []int             `pulumi:"ports,optional"`
	Annotations      map[string]string `pulumi:"annotations,optional"`
	Tags             []string          `pulumi:"tags,optional"`
	RegistryUsername string            `pulumi:"registryUsername,optional"`
	RegistryPassword string            `pulumi:"registryPassword,optional" provider:"secret"`
}

// ImageState is the state: the inputs, the digest and the pinned reference.
type ImageState struct {
	ImageArgs
	Digest string `pulumi:"digest"`
	Ref    string `pulumi:"ref"`
}

// Annotate documents the resource for the schema.
func (i *Image) Annotate(a infer.Annotator) {
	a.SetToken("index", "Image")
	a.Describe(&i, "A Go main package built into a reproducible OCI image (static binary on an empty base, "+
		"CA bundle, user 65532) and pushed to a registry by digest. Preview computes the digest without pushing.")
}

// Annotate documents the inputs.
func (a *ImageArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Context, "Directory `go build` runs in (the Go module), relative to the Pulumi project. Default \".\".")
	an.Describe(&a.Main, "The main package, as `go build` takes it, e.g. \"./apps/history-server\".")
	an.Describe(&a.Binary, "Name of the binary in the image (/app/<binary>). Default: the package's last path element.")
	an.Describe(&a.Repository, "Repository to push to, e.g. \"docker.io/<user>/history-server\" or \"localhost:5000/lab5/history-server\".")
	an.Describe(&a.Platforms, "Platforms as os/arch[/variant]. Default [\"linux/amd64\"]; several give an image index.")
	an.Describe(&a.Ports, "TCP ports the image config exposes.")
	an.Describe(&a.Annotations, "OCI annotations of the manifest (and index), e.g. org.opencontainers.image.source.")
	an.Describe(&a.Tags, "Tags pointed at the pushed digest. Default none: workloads use the digest.")
	an.Describe(&a.RegistryUsername, "Registry user. Without it the Docker config (~/.docker/config.json) is used.")
	an.Describe(&a.RegistryPassword, "Registry password or token (secret).")
}

// Annotate documents the outputs.
func (s *ImageState) Annotate(a infer.Annotator) {
	a.Describe(&s.Digest, "The manifest's (or index's) digest, sha256:…")
	a.Describe(&s.Ref, "The pinned reference repository@sha256:…, for a container's image field.")
}

// WireDependencies: digest and ref are computed by the provider in preview
// too (the build needs no registry), so they are known whenever the inputs
// are.
func (*Image) WireDependencies(f infer.FieldSelector, args *ImageArgs, state *ImageState) {
	f.OutputField(&state.Digest).AlwaysKnown()
	f.OutputField(&state.Ref).AlwaysKnown()
}

// Check validates the inputs that can be checked without building.
func (*Image) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[ImageArgs], error) {
	args, failures, err := infer.DefaultCheck[ImageArgs](ctx, req.NewInputs)
	if err != nil {
		return infer.CheckResponse[ImageArgs]{}, err
	}
	fail := func(prop, format string, a ...any) {
		failures = append(failures, p.CheckFailure{Property: prop, Reason: fmt.Sprintf(format, a...)})
	}
	if args.Repository != "" {
		if _, err := name.NewRepository(args.Repository); err != nil {
			fail("repository", "%q is not a repository (registry/path, lower case, no tag): %v", args.Repository, err)
		}
	}
	for _, s := range args.Platforms {
		if _, err := builder.ParsePlatform(s); err != nil {
			fail("platforms", "%v", err)
		}
	}
	for _, port := range args.Ports {
		if port < 1 || port > 65535 {
			fail("ports", "port %d is out of range 1-65535", port)
		}
	}
	for _, t := range args.Tags {
		if _, err := name.NewTag("example.com/x:" + t); err != nil {
			fail("tags", "%q is not a valid tag", t)
		}
	}
	if (args.RegistryUsername == "") != (args.RegistryPassword == "") {
		fail("registryPassword", "registryUsername and registryPassword go together: set both or neither")
	}
	return infer.CheckResponse[ImageArgs]{Inputs: args, Failures: failures}, nil
}

// Diff builds the image and compares its digest with the one in the state:
// that is what decides whether the image, and so every workload using its
// ref, changes. A new digest or repository replaces the image (an image is
// immutable); other input changes (tags, credentials) update it in place.
func (*Image) Diff(ctx context.Context, req infer.DiffRequest[ImageArgs, ImageState]) (infer.DiffResponse, error) {
	img, err := build(ctx, req.Inputs)
	if err != nil {
		return infer.DiffResponse{}, err
	}
	diff := map[string]p.PropertyDiff{}
	if d := img.Digest.String(); d != req.State.Digest {
		diff["digest"] = p.PropertyDiff{Kind: p.UpdateReplace}
	}
	if req.Inputs.Repository != req.State.Repository {
		diff["repository"] = p.PropertyDiff{Kind: p.UpdateReplace, InputDiff: true}
	}
	old, new := req.State.ImageArgs, req.Inputs
	changed := map[string]bool{
		"context":          old.Context != new.Context,
		"main":             old.Main != new.Main,
		"binary":           old.Binary != new.Binary,
		"platforms":        !slices.Equal(old.Platforms, new.Platforms),
		"ports":            !slices.Equal(old.Ports, new.Ports),
		"annotations":      !maps.Equal(old.Annotations, new.Annotations),
		"tags":             !slices.Equal(old.Tags, new.Tags),
		"registryUsername": old.RegistryUsername != new.RegistryUsername,
		"registryPassword": old.RegistryPassword != new.RegistryPassword,
	}
	for k, c := range changed {
		if c {
			diff[k] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
		}
	}
	return infer.DiffResponse{
		HasChanges:   len(diff) > 0,
		DetailedDiff: diff,
	}, nil
}

// Create builds the image; outside preview it pushes it.
func (*Image) Create(ctx context.Context, req infer.CreateRequest[ImageArgs]) (infer.CreateResponse[ImageState], error) {
	state, err := buildAndPush(ctx, req.Inputs, req.DryRun)
	if err != nil {
		return infer.CreateResponse[ImageState]{}, err
	}
	return infer.CreateResponse[ImageState]{ID: state.Ref, Output: state}, nil
}

// Update pushes again (blobs the registry has are skipped) and applies the
// new tags and credentials.
func (*Image) Update(ctx context.Context, req infer.UpdateRequest[ImageArgs, ImageState]) (infer.UpdateResponse[ImageState], error) {
	state, err := buildAndPush(ctx, req.Inputs, req.DryRun)
	if err != nil {
		return infer.UpdateResponse[ImageState]{}, err
	}
	return infer.UpdateResponse[ImageState]{Output: state}, nil
}

// Read asks the registry whether the manifest is still there. When it is
// not, the resource is reported gone (empty ID): refresh drops it from the
// state and the next `up` pushes it again.
func (*Image) Read(ctx context.Context, req infer.ReadRequest[ImageArgs, ImageState]) (infer.ReadResponse[ImageArgs, ImageState], error) {
	resp := infer.ReadResponse[ImageArgs, ImageState](req)
	if req.State.Ref == "" {
		return resp, nil
	}
	ref, err := name.NewDigest(req.State.Ref)
	if err != nil {
		return resp, fmt.Errorf("state holds an invalid ref %q: %w", req.State.Ref, err)
	}
	ok, err := builder.Exists(ctx, ref, auth(req.State.ImageArgs))
	if err != nil {
		return resp, err
	}
	if !ok {
		p.GetLogger(ctx).Warningf("%s is no longer in the registry; the next update pushes it again", req.State.Ref)
		return infer.ReadResponse[ImageArgs, ImageState]{}, nil
	}
	return resp, nil
}

// Delete leaves the pushed image in the registry (see Image).
func (*Image) Delete(ctx context.Context, req infer.DeleteRequest[ImageState]) (infer.DeleteResponse, error) {
	return infer.DeleteResponse{}, nil
}

func auth(a ImageArgs) builder.Auth {
	return builder.Auth{Username: a.RegistryUsername, Password: a.RegistryPassword}
}

func build(ctx context.Context, a ImageArgs) (*builder.Image, error) {
	if a.Main == "" || a.Repository == "" {
		return nil, fmt.Errorf("main and repository are required")
	}
	dir := a.Context
	if dir == "" {
		dir = "."
	}
	return builder.Build(ctx, builder.Options{
		Dir:         dir,
		Package:     a.Main,
		Name:        a.Binary,
		Platforms:   a.Platforms,
		Ports:       a.Ports,
		Annotations: a.Annotations,
	})
}

func buildAndPush(ctx context.Context, a ImageArgs, dryRun bool) (ImageState, error) {
	log := p.GetLogger(ctx)
	log.InfoStatusf("building %s", a.Main)
	img, err := build(ctx, a)
	if err != nil {
		return ImageState{}, err
	}
	ref, err := builder.Ref(a.Repository, img.Digest)
	if err != nil {
		return ImageState{}, err
	}
	state := ImageState{ImageArgs: a, Digest: img.Digest.String(), Ref: ref.String()}
	if dryRun {
		return state, nil
	}
	log.InfoStatusf("pushing %s", ref)
	if _, err := builder.Push(ctx, a.Repository, img, auth(a), a.Tags...); err != nil {
		return ImageState{}, err
	}
	log.InfoStatus("")
	return state, nil
}
