package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// testImageRepository is the imageRepository of the tests' base config.
const testImageRepository = "registry.example/lab5"

// mockDigest stands in for the provider's digest: a function of the
// inputs, as the real one is of the sources.
func mockDigest(inputs map[string]any) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(inputs["repository"], inputs["main"], inputs["platforms"])))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// mockGoImageOutputs is what the goimage provider returns: the inputs plus
// digest and ref.
func mockGoImageOutputs(inputs resource.PropertyMap) resource.PropertyMap {
	out := inputs.Copy()
	in := plainMap(inputs)
	d := mockDigest(in)
	out["digest"] = resource.NewStringProperty(d)
	out["ref"] = resource.NewStringProperty(fmt.Sprint(in["repository"]) + "@" + d)
	return out
}

// goImage returns the recorded goimage resource of app, or nil.
func (r *labRun) goImage(app string) *k8sObject {
	for _, o := range r.images {
		if o.URNName == app {
			return o
		}
	}
	return nil
}

// imageRef is the ref the mock provider returned for app's image.
func (r *labRun) imageRef(app string) string {
	r.t.Helper()
	o := r.goImage(app)
	if o == nil {
		r.t.Fatalf("no %s resource named %s", GoImageType, app)
	}
	return o.str("repository") + "@" + mockDigest(o.Obj)
}

// TestWorkloadsRunTheBuiltImages: by default both apps are built from
// apps/ and the Deployment and the CronJob run exactly the pinned refs
// (repository@digest) of those image resources, and depend on them.
func TestWorkloadsRunTheBuiltImages(t *testing.T) {
	t.Parallel()
	r := mustRun(t, with("imageSource", "https://example.com/lab5.git", "imageRevision", "0123abc"))

	hs, pf := r.goImage("history-server"), r.goImage("price-fetcher")
	if hs == nil || pf == nil {
		t.Fatalf("image resources: history-server %v, price-fetcher %v", hs, pf)
	}
	for _, c := range []struct {
		img              *k8sObject
		main, repo, port string
	}{
		{hs, "./apps/history-server", testImageRepository + "/history-server", "[8080]"},
		{pf, "./apps/price-fetcher", testImageRepository + "/price-fetcher", "[]"},
	} {
		if c.img.str("main") != c.main || c.img.str("repository") != c.repo {
			t.Errorf("%s: main %q repository %q", c.img.URNName, c.img.str("main"), c.img.str("repository"))
		}
		if got := fmt.Sprint(toStrings(c.img.dig("ports"))); got != c.port {
			t.Errorf("%s: ports %s, want %s", c.img.URNName, got, c.port)
		}
		anns := c.img.labels("annotations")
		want := map[string]string{
			"org.opencontainers.image.title":    c.img.URNName,
			"org.opencontainers.image.source":   "https://example.com/lab5.git",
			"org.opencontainers.image.revision": "0123abc",
		}
		if !reflect.DeepEqual(anns, want) {
			t.Errorf("%s: annotations %v, want %v", c.img.URNName, anns, want)
		}
		if c.img.dig("registryUsername") != nil || c.img.dig("registryPassword") != nil {
			t.Errorf("%s: credentials sent without config: %v", c.img.URNName, c.img.Obj)
		}
	}

	d := r.get("Deployment", "production", "history-server")
	if got, want := r.container(d, "history-server")["image"], r.imageRef("history-server"); got != want {
		t.Errorf("Deployment image %v, want %s", got, want)
	}
	cj := r.get("CronJob", "production", "price-fetcher")
	if got, want := r.container(cj, "price-fetcher")["image"], r.imageRef("price-fetcher"); got != want {
		t.Errorf("CronJob image %v, want %s", got, want)
	}
	if !strings.HasPrefix(r.imageRef("history-server"), testImageRepository+"/history-server@sha256:") {
		t.Errorf("ref %s is not repository@sha256:…", r.imageRef("history-server"))
	}
	if !dependsOn(d, hs) || !dependsOn(cj, pf) || dependsOn(d, pf) || dependsOn(cj, hs) {
		t.Error("each workload must depend on its own image, and only on it")
	}
}

// TestPinnedImagesBypassTheBuild: a configured image is used as it is and
// nothing is built for that app; pinning both makes imageRepository
// unnecessary.
func TestPinnedImagesBypassTheBuild(t *testing.T) {
	t.Parallel()
	pinned := "docker.io/someone/history-server:1.2.3"
	r := mustRun(t, with("historyServerImage", pinned))
	if r.goImage("history-server") != nil || r.goImage("price-fetcher") == nil {
		t.Fatal("pinning history-server must build price-fetcher only")
	}
	if got := r.container(r.get("Deployment", "production", "history-server"), "history-server")["image"]; got != pinned {
		t.Errorf("Deployment image %v, want the pinned %s", got, pinned)
	}

	both := mustRun(t, with("imageRepository", "", "historyServerImage", pinned,
		"priceFetcherImage", "docker.io/someone/price-fetcher:1.2.3"))
	for _, o := range both.images {
		t.Errorf("image %s built although both images are pinned", o.URNName)
	}
	if got := both.container(both.get("CronJob", "production", "price-fetcher"), "price-fetcher")["image"]; got != "docker.io/someone/price-fetcher:1.2.3" {
		t.Errorf("CronJob image %v", got)
	}
}

// TestImageRegistryCredentials: username and secret password reach both
// image resources, the password as a secret.
func TestImageRegistryCredentials(t *testing.T) {
	t.Parallel()
	cfg := with("imageRegistryUsername", "someone", "imageRegistryPassword", "t0ken", "imagePlatforms", "linux/amd64,linux/arm64")
	r, err := runProgram(cfg, withConfig(cfg, []string{"lab5:minioRootPassword", "lab5:imageRegistryPassword"}))
	if err != nil {
		t.Fatal(err)
	}
	r.t = t
	for _, app := range []string{"history-server", "price-fetcher"} {
		img := r.goImage(app)
		if img.str("registryUsername") != "someone" || img.dig("registryPassword") != "t0ken" ||
			!isSecretAt(img.Obj, "registryPassword") {
			t.Errorf("%s: credentials %v", app, img.Obj)
		}
		if got := toStrings(img.dig("platforms")); !reflect.DeepEqual(got, []string{"linux/amd64", "linux/arm64"}) {
			t.Errorf("%s: platforms %v", app, got)
		}
	}
}

func TestImageConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		config map[string]string
		secret bool
		want   string
	}{
		{"no repository", with("imageRepository", ""), false, "lab5:imageRepository is required to build the apps' images"},
		{"repository with a scheme", with("imageRepository", "https://docker.io/someone"), false, "lab5:imageRepository must be a registry and path"},
		{"repository upper case", with("imageRepository", "docker.io/SomeOne"), false, "lab5:imageRepository must be a registry and path"},
		{"username alone", with("imageRegistryUsername", "someone"), false, "lab5:imageRegistryUsername is set but imageRegistryPassword is not"},
		{"password alone", with("imageRegistryPassword", "t0ken"), true, "lab5:imageRegistryPassword is set but imageRegistryUsername is not"},
		{"password in plain text", with("imageRegistryUsername", "someone", "imageRegistryPassword", "t0ken"), false, "lab5:imageRegistryPassword must be a secret"},
		{"bad platform", with("imagePlatforms", "windows/amd64"), false, "lab5:imagePlatforms must be a comma-separated list of linux platforms"},
		{"bad pin", with("historyServerImage", "https://hub.docker.com/x"), false, "lab5:historyServerImage must be a container image reference"},
	} {
		t.Run(c.name, func(t *testing.T) {
			secrets := []string{"lab5:minioRootPassword"}
			if c.secret {
				secrets = append(secrets, "lab5:imageRegistryPassword")
			}
			_, err := runProgram(c.config, withConfig(c.config, secrets))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
