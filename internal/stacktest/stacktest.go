// Package stacktest drives the pulumi CLI on one of the lab's stacks for the
// cluster-tier tests (test/e2e on the fake nodes, test/runtime on the real
// node): a stack with its own file backend and its own copy of the stack's
// config file, so the user's stacks and the repository's files are never
// touched.
package stacktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lab5/k8s-networking/internal/kubetest"
)

// Environment of a stack deployed before the tests ran (hack/test.sh's
// real-node tier): its name and config file; the backend is the
// PULUMI_BACKEND_URL the tests inherit.
const (
	EnvStack      = "LAB5_STACK"
	EnvConfigFile = "LAB5_STACK_CONFIG_FILE"
)

// Stack is one pulumi stack of the project.
type Stack struct {
	t          testing.TB
	Name       string
	Root       string   // the project folder pulumi runs in
	ConfigFile string   // the stack's config file, a copy of Pulumi.<Name>.yaml
	Env        []string // pulumi's environment
}

// New creates stack name on a new file backend, with a private copy of the
// repository's Pulumi.<name>.yaml; unset names environment variables pulumi
// must not see.
func New(t testing.TB, name string, unset ...string) *Stack {
	t.Helper()
	root := kubetest.RepoRoot()
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(root, "Pulumi."+name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{t: t, Name: name, Root: root, ConfigFile: filepath.Join(dir, "Pulumi."+name+".yaml")}
	if err := os.WriteFile(s.ConfigFile, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	backend := filepath.Join(dir, "state")
	if err := os.MkdirAll(backend, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if key, _, _ := strings.Cut(kv, "="); !slices.Contains(unset, key) {
			s.Env = append(s.Env, kv)
		}
	}
	s.Env = append(s.Env, "PULUMI_BACKEND_URL=file://"+backend)
	s.Pulumi("plugin", "install", "resource", "kubernetes", ProviderVersion(t),
		"--file", filepath.Join(root, ".tools", "bin", "pulumi-resource-kubernetes"))
	s.Pulumi("stack", "init", name)
	return s
}

// Deployed is the stack hack/test.sh deployed before the tests ran, named by
// LAB5_STACK and LAB5_STACK_CONFIG_FILE; ok is false when none was.
func Deployed(t testing.TB) (s *Stack, ok bool) {
	name, cfg := os.Getenv(EnvStack), os.Getenv(EnvConfigFile)
	if name == "" || cfg == "" {
		return nil, false
	}
	return &Stack{t: t, Name: name, Root: kubetest.RepoRoot(), ConfigFile: cfg, Env: os.Environ()}, true
}

// ProviderVersion is the Kubernetes provider's version, from the one
// versions file.
func ProviderVersion(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kubetest.RepoRoot(), "tools", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PULUMI_KUBERNETES_VERSION="); ok {
			v, _, _ = strings.Cut(v, "#") // a "# pin: ..." comment may follow
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("PULUMI_KUBERNETES_VERSION not in tools/versions.env")
	return ""
}

// Pulumi runs one CLI command and returns its output; it fails the test on
// a non-zero exit.
func (s *Stack) Pulumi(args ...string) string {
	s.t.Helper()
	out, err := s.Try(args...)
	if err != nil {
		s.t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs one CLI command and returns its output and error.
func (s *Stack) Try(args ...string) (string, error) {
	return s.run(nil, "pulumi", append(args, "--non-interactive")...)
}

// Script runs hack/stack.sh, what make up / make preview run, on this
// stack: same backend, same config file, the cluster of KUBECONFIG.
func (s *Stack) Script(action string, args ...string) (string, error) {
	return s.run(nil, filepath.Join(s.Root, "hack", "stack.sh"), append([]string{action, "--non-interactive"}, args...)...)
}

// run runs a command in the project folder with the stack's environment
// and env.
func (s *Stack) run(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Root
	cmd.Env = append(append(append([]string{}, s.Env...), env...), "STACK="+s.Name, "STACK_CONFIG_FILE="+s.ConfigFile)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// WithConfig adds the stack's name and config file to a command.
func (s *Stack) WithConfig(args ...string) []string {
	return append(args, "--stack", s.Name, "--config-file", s.ConfigFile)
}

// SetConfig sets stack config keys, given as key, value pairs.
func (s *Stack) SetConfig(kv ...string) {
	s.t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		s.Pulumi(s.WithConfig("config", "set", kv[i], kv[i+1])...)
	}
}

// Up runs pulumi up, without a preview, and fails the test when it fails.
func (s *Stack) Up(args ...string) string {
	s.t.Helper()
	return s.Pulumi(s.WithConfig(append([]string{"up", "--yes", "--skip-preview"}, args...)...)...)
}

// DestroyEnv is what hack/stack.sh (make destroy) adds to pulumi destroy's
// environment: pulumi writes the state once, at the end, instead of after
// each delete (README, "The user's loop").
var DestroyEnv = []string{"PULUMI_SKIP_CHECKPOINTS=true"}

// Destroy runs pulumi destroy as make destroy runs it.
func (s *Stack) Destroy() (string, error) {
	return s.run(DestroyEnv, "pulumi", s.WithConfig("destroy", "--yes", "--skip-preview", "--non-interactive")...)
}

// DestroyOnFailure destroys the stack when the test fails, so that a failed
// step leaves the control plane empty for the tests after it.
func (s *Stack) DestroyOnFailure() {
	s.t.Cleanup(func() {
		if s.t.Failed() {
			_, _ = s.Destroy()
		}
	})
}
