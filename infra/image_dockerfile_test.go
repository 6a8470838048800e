package infra

import (
	"context"
	"os"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/lab5/k8s-networking/internal/goimage"
)

// instruction is one Dockerfile instruction: its keyword, flags and
// arguments (the JSON form's elements for ENTRYPOINT ["..."]).
type instruction struct {
	cmd   string
	flags []string
	args  []string
	json  bool
}

// stage is one FROM ... up to the next FROM.
type stage struct {
	from  string
	insts []instruction
}

func parseDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToLower(n.Value), flags: n.Flags, json: n.Attributes["json"]}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "from" {
			stages = append(stages, stage{from: in.args[0]})
			continue
		}
		if len(stages) == 0 {
			continue // ARG before the first FROM
		}
		s := &stages[len(stages)-1]
		s.insts = append(s.insts, in)
	}
	return stages
}

// last returns the stage's last instruction of that keyword.
func (s stage) last(cmd string) (instruction, bool) {
	for i := len(s.insts) - 1; i >= 0; i-- {
		if s.insts[i].cmd == cmd {
			return s.insts[i], true
		}
	}
	return instruction{}, false
}

var digestPinnedRe = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// TestDockerfilesDescribeTheBuiltImages: Dockerfile.server and
// Dockerfile.fetcher, parsed with BuildKit's own parser, describe the image
// the goimage builder produces for the same app: user, entrypoint (where
// the binary is copied), working directory, CA bundle, exposed ports, the
// build flags, a distroless static base with CA certificates and tzdata,
// every base pinned by digest.
func TestDockerfilesDescribeTheBuiltImages(t *testing.T) {
	for app, file := range map[string]string{
		HistoryServerName: "../Dockerfile.server",
		PriceFetcherName:  "../Dockerfile.fetcher",
	} {
		t.Run(app, func(t *testing.T) {
			spec := appImageSpecs[app]
			img, err := goimage.Build(context.Background(), goimage.Options{Dir: "..", Package: spec.Main, Ports: spec.Ports})
			if err != nil {
				t.Fatal(err)
			}
			built, ok := img.Artifact.(v1.Image)
			if !ok {
				t.Fatalf("one platform built %T, want an image", img.Artifact)
			}
			cf, err := built.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}

			stages := parseDockerfile(t, file)
			if len(stages) < 2 {
				t.Fatalf("%s: %d stages, want a build stage and a run stage", file, len(stages))
			}
			for _, s := range stages {
				if !digestPinnedRe.MatchString(s.from) {
					t.Errorf("%s: FROM %s is not pinned by digest (name@sha256:…)", file, s.from)
				}
			}
			run := stages[len(stages)-1]
			if !strings.HasPrefix(run.from, "gcr.io/distroless/static-debian12:nonroot@") {
				t.Errorf("%s: run stage FROM %s; want distroless static nonroot (CA certificates, tzdata, passwd)", file, run.from)
			}

			if u, ok := run.last("user"); !ok || u.args[0] != cf.Config.User {
				t.Errorf("%s: USER %v, the built image runs as %s", file, u.args, cf.Config.User)
			}
			if e, ok := run.last("entrypoint"); !ok || !e.json || !reflect.DeepEqual(e.args, cf.Config.Entrypoint) {
				t.Errorf("%s: ENTRYPOINT %v (exec form %v), the built image's is %q", file, e.args, e.json, cf.Config.Entrypoint)
			}
			if w, ok := run.last("workdir"); !ok || w.args[0] != cf.Config.WorkingDir {
				t.Errorf("%s: WORKDIR %v, the built image's is %s", file, w.args, cf.Config.WorkingDir)
			}
			var exposed []string
			for _, in := range run.insts {
				if in.cmd == "expose" {
					for _, p := range in.args {
						if !strings.Contains(p, "/") {
							p += "/tcp"
						}
						exposed = append(exposed, p)
					}
				}
			}
			var want []string
			for p := range cf.Config.ExposedPorts {
				want = append(want, p)
			}
			sort.Strings(exposed)
			sort.Strings(want)
			if !reflect.DeepEqual(exposed, want) {
				t.Errorf("%s: EXPOSE %v, the built image exposes %v", file, exposed, want)
			}
			env := map[string]bool{}
			for _, in := range run.insts {
				if in.cmd == "env" {
					for i := 0; i+1 < len(in.args); i += 2 {
						env[in.args[i]+"="+in.args[i+1]] = true
					}
				}
			}
			for _, e := range cf.Config.Env {
				if strings.HasPrefix(e, "SSL_CERT_FILE=") && !env[e] {
					t.Errorf("%s: no ENV %s", file, e)
				}
			}

			// The binary lands where the entrypoint runs it from.
			copied := false
			for _, in := range run.insts {
				if in.cmd == "copy" && len(in.args) == 2 && in.args[1] == cf.Config.Entrypoint[0] {
					copied = true
				}
			}
			if !copied {
				t.Errorf("%s: nothing is copied to %s", file, cf.Config.Entrypoint[0])
			}

			// Built as the provider builds it.
			var build string
			for _, in := range stages[0].insts {
				switch {
				case in.cmd == "run" && strings.Contains(strings.Join(in.args, " "), "go build"):
					build += " " + strings.Join(in.args, " ")
				case in.cmd == "env":
					for i := 0; i+1 < len(in.args); i += 2 {
						build += " " + in.args[i] + "=" + in.args[i+1]
					}
				}
			}
			for _, flag := range []string{"-trimpath", "-tags timetzdata", `-ldflags "-s -w"`, "CGO_ENABLED=0", " " + spec.Main, path.Base(spec.Main)} {
				if !strings.Contains(build, flag) {
					t.Errorf("%s: the build stage lacks %s: %s", file, flag, build)
				}
			}
		})
	}
}
