package goimage

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/blang/semver"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	builder "github.com/lab5/k8s-networking/internal/goimage"
	"github.com/lab5/k8s-networking/internal/testutil"
)

var urn = presource.NewURN("dev", "lab5", "", "goimage:index:Image", "hello")

// fixture is a throwaway main module, an in-memory registry on loopback
// that counts the requests it gets, and the provider under the test harness.
type fixture struct {
	t        *testing.T
	dir      string
	host     string
	requests atomic.Int64
	server   integration.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir()}
	f.write("go.mod", "module example.com/hello\n\ngo 1.26\n")
	f.write("cmd/hello/main.go", "package main\n\nfunc main() { println(\"v1\") }\n")

	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	f.host = u.Host

	prov, err := Provider()
	if err != nil {
		t.Fatal(err)
	}
	f.server, err = integration.NewServer(context.Background(), Name, semver.MustParse(Version), integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) write(rel, body string) {
	f.t.Helper()
	path := filepath.Join(f.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) inputs(repo string, extra map[string]property.Value) property.Map {
	m := map[string]property.Value{
		"context":    property.New(f.dir),
		"main":       property.New("./cmd/hello"),
		"repository": property.New(repo),
		"ports":      property.New([]property.Value{property.New(8080.0)}),
	}
	for k, v := range extra {
		m[k] = v
	}
	return property.NewMap(m)
}

func (f *fixture) check(in property.Map) property.Map {
	f.t.Helper()
	resp, err := f.server.Check(p.CheckRequest{Urn: urn, Inputs: in})
	if err != nil || len(resp.Failures) > 0 {
		f.t.Fatalf("check: %v %v", err, resp.Failures)
	}
	return resp.Inputs
}

func (f *fixture) create(in property.Map, dryRun bool) p.CreateResponse {
	f.t.Helper()
	resp, err := f.server.Create(p.CreateRequest{Urn: urn, Properties: in, DryRun: dryRun})
	if err != nil {
		f.t.Fatalf("create (dryRun=%v): %v", dryRun, err)
	}
	return resp
}

func str(t *testing.T, m property.Map, key string) string {
	t.Helper()
	v := m.Get(key)
	if v.IsComputed() || !v.IsString() {
		t.Fatalf("%s is %v, want a known string", key, v)
	}
	return v.AsString()
}

// inRegistry says whether the registry serves the manifest ref names.
func inRegistry(t *testing.T, ref string) bool {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := builder.Exists(context.Background(), d, builder.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	repo := f.host + "/lab5/hello"
	in := f.check(f.inputs(repo, nil))

	// Preview: digest and ref known, the registry untouched.
	prev := f.create(in, true)
	digest := str(t, prev.Properties, "digest")
	ref := str(t, prev.Properties, "ref")
	if !strings.HasPrefix(digest, "sha256:") || ref != repo+"@"+digest {
		t.Fatalf("preview: digest %q ref %q", digest, ref)
	}
	if n := f.requests.Load(); n != 0 {
		t.Fatalf("preview sent %d requests to the registry", n)
	}

	// Up: pushed, under the digest preview announced.
	created := f.create(in, false)
	if created.ID != ref || str(t, created.Properties, "ref") != ref {
		t.Fatalf("create: id %q ref %q, preview said %q", created.ID, str(t, created.Properties, "ref"), ref)
	}
	if !inRegistry(t, ref) {
		t.Fatal("create did not push the manifest")
	}
	state := created.Properties

	// Unchanged sources: no diff (what `preview --expect-no-changes` sees).
	before := f.requests.Load()
	diff, err := f.server.Diff(p.DiffRequest{ID: created.ID, Urn: urn, State: state, Inputs: in, OldInputs: in})
	if err != nil || diff.HasChanges {
		t.Fatalf("diff of unchanged sources: %+v, %v", diff, err)
	}

	// A source change: a replace because of the digest, a new digest in
	// preview, still nothing pushed.
	f.write("cmd/hello/main.go", "package main\n\nfunc main() { println(\"v2\") }\n")
	diff, err = f.server.Diff(p.DiffRequest{ID: created.ID, Urn: urn, State: state, Inputs: in, OldInputs: in})
	if err != nil || !diff.HasChanges || diff.DetailedDiff["digest"].Kind != p.UpdateReplace {
		t.Fatalf("diff after a source change: %+v, %v", diff, err)
	}
	prev2 := f.create(in, true)
	ref2 := str(t, prev2.Properties, "ref")
	if ref2 == ref {
		t.Fatal("a source change kept the digest")
	}
	if n := f.requests.Load(); n != before {
		t.Fatalf("diff and preview sent %d requests to the registry", n-before)
	}
	if inRegistry(t, ref2) {
		t.Fatal("the new image is in the registry before up")
	}
	created2 := f.create(in, false)
	if created2.ID != ref2 || !inRegistry(t, ref2) {
		t.Fatalf("replacement: id %q, pushed=%v", created2.ID, inRegistry(t, ref2))
	}

	// Refresh after the manifest was deleted from the registry: the
	// resource is reported gone, and the create that follows pushes again.
	d2, _ := name.NewDigest(ref2)
	if err := remote.Delete(d2); err != nil {
		t.Fatal(err)
	}
	read, err := f.server.Read(p.ReadRequest{ID: created2.ID, Urn: urn, Properties: created2.Properties, Inputs: in})
	if err != nil || read.ID != "" {
		t.Fatalf("read of a deleted manifest: id %q, %v", read.ID, err)
	}
	again := f.create(in, false)
	if again.ID != ref2 || !inRegistry(t, ref2) {
		t.Fatal("the image was not pushed again after the refresh")
	}
	// And a read of an image that is there keeps it.
	read, err = f.server.Read(p.ReadRequest{ID: again.ID, Urn: urn, Properties: again.Properties, Inputs: in})
	if err != nil || read.ID != ref2 {
		t.Fatalf("read of a present manifest: id %q, %v", read.ID, err)
	}

	// Destroy leaves the image in the registry.
	if err := f.server.Delete(p.DeleteRequest{ID: again.ID, Urn: urn, Properties: again.Properties}); err != nil {
		t.Fatal(err)
	}
	if !inRegistry(t, ref2) {
		t.Fatal("delete removed the image from the registry")
	}

	// Tags and credentials change in place, not by replacement.
	in3 := f.check(f.inputs(repo, map[string]property.Value{"tags": property.New([]property.Value{property.New("latest")})}))
	diff, err = f.server.Diff(p.DiffRequest{ID: again.ID, Urn: urn, State: again.Properties, Inputs: in3, OldInputs: in})
	if err != nil || !diff.HasChanges || diff.DetailedDiff["tags"].Kind != p.Update || len(diff.DetailedDiff) != 1 {
		t.Fatalf("diff of a new tag: %+v, %v", diff, err)
	}
}

func TestBuildAndRegistryErrors(t *testing.T) {
	f := newFixture(t)

	// Invalid inputs are refused by Check, naming the property.
	resp, err := f.server.Check(p.CheckRequest{Urn: urn, Inputs: f.inputs("Not A Repo!", map[string]property.Value{
		"registryUsername": property.New("lab"),
		"platforms":        property.New([]property.Value{property.New("windows/amd64")}),
	})})
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]bool{}
	for _, fl := range resp.Failures {
		props[fl.Property] = true
	}
	for _, want := range []string{"repository", "registryPassword", "platforms"} {
		if !props[want] {
			t.Errorf("check did not refuse %s: %v", want, resp.Failures)
		}
	}

	// A package that does not compile: the compiler's message, in preview.
	f.write("cmd/hello/main.go", "package main\n\nfunc main() { nope() }\n")
	in := f.check(f.inputs(f.host+"/lab5/hello", nil))
	_, err = f.server.Create(p.CreateRequest{Urn: urn, Properties: in, DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "undefined: nope") {
		t.Fatalf("broken package in preview: %v", err)
	}
	f.write("cmd/hello/main.go", "package main\n\nfunc main() {}\n")

	// A registry nobody listens on.
	in = f.check(f.inputs(testutil.FreeAddr(t)+"/lab5/hello", nil))
	_, err = f.server.Create(p.CreateRequest{Urn: urn, Properties: in})
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("dead registry: %v", err)
	}
}

func TestSchemaHasTheToken(t *testing.T) {
	f := newFixture(t)
	s, err := f.server.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(s.Schema), "")
	for _, want := range []string{`"goimage:index:Image"`, `"registryPassword":{"type":"string","description":"Registrypasswordortoken(secret).","secret":true}`, `"ref":{`, `"digest":{`} {
		if !strings.Contains(compact, want) {
			t.Errorf("schema lacks %s:\n%s", want, s.Schema)
		}
	}
}
