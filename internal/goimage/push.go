package goimage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Auth says how to log in to a registry.
type Auth struct {
	// Username and Password (or token), when set, are used as they are;
	// otherwise the user's Docker config (~/.docker/config.json or
	// $DOCKER_CONFIG, what `docker login` wrote, credential helpers
	// included) is asked, and without an entry the registry is used
	// anonymously.
	Username, Password string
}

func (a Auth) option() remote.Option {
	if a.Username != "" || a.Password != "" {
		return remote.WithAuth(&authn.Basic{Username: a.Username, Password: a.Password})
	}
	return remote.WithAuthFromKeychain(authn.DefaultKeychain)
}

// Ref is repo@digest, the reference that pins an image.
func Ref(repo string, digest v1.Hash) (name.Digest, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return name.Digest{}, fmt.Errorf("repository %q: %w", repo, err)
	}
	return r.Digest(digest.String()), nil
}

// Push uploads the image (blobs the registry lacks, then the manifest or
// index, addressed by digest) and returns repo@digest. Tags, if any, are
// pointed at it afterwards. Loopback and localhost registries are spoken to
// over plain HTTP, any other over HTTPS.
func Push(ctx context.Context, repo string, img *Image, auth Auth, tags ...string) (name.Digest, error) {
	ref, err := Ref(repo, img.Digest)
	if err != nil {
		return name.Digest{}, err
	}
	opts := []remote.Option{remote.WithContext(ctx), auth.option()}
	switch a := img.Artifact.(type) {
	case v1.Image:
		err = remote.Write(ref, a, opts...)
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, a, opts...)
	default:
		err = fmt.Errorf("unexpected artifact %T", img.Artifact)
	}
	if err != nil {
		return name.Digest{}, registryError("push to", ref.Context(), err)
	}
	for _, t := range tags {
		tag := ref.Context().Tag(t)
		desc, err := remote.Get(ref, opts...)
		if err == nil {
			err = remote.Tag(tag, desc, opts...)
		}
		if err != nil {
			return name.Digest{}, registryError("tag "+t+" in", ref.Context(), err)
		}
	}
	return ref, nil
}

// Exists says whether the registry has the manifest ref names (a HEAD
// request; nothing is downloaded).
func Exists(ctx context.Context, ref name.Digest, auth Auth) (bool, error) {
	_, err := remote.Head(ref, remote.WithContext(ctx), auth.option())
	if err == nil {
		return true, nil
	}
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return false, nil
	}
	return false, registryError("look up the manifest in", ref.Context(), err)
}

// registryError turns the errors users meet most into sentences that say
// what to do: a registry that does not answer, and credentials refused.
func registryError(verb string, repo name.Repository, err error) error {
	reg := repo.RegistryStr()
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("cannot %s %s: registry %s refused access (HTTP %d) with the credentials given "+
				"or none: run `docker login %s`, or set the registry username and password: %w",
				verb, repo, reg, te.StatusCode, reg, err)
		}
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		(errors.As(err, &urlErr) && urlErr.Timeout()) {
		return fmt.Errorf("cannot %s %s: registry %s is unreachable (is it running, is the address right?): %w",
			verb, repo, reg, err)
	}
	return fmt.Errorf("cannot %s %s: %w", verb, repo, err)
}
