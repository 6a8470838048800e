package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeProgram is a stand-in Pulumi program: it reports its version,
// working directory and arguments, and exits with the status given as
// first argument.
const fakeProgram = `package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	wd, _ := os.Getwd()
	fmt.Printf("version=%s wd=%s args=%q\n", "VERSION", wd, os.Args[1:])
	if len(os.Args) > 1 {
		code, _ := strconv.Atoi(os.Args[1])
		os.Exit(code)
	}
}
`

// newProject writes a project (Pulumi.yaml, go.mod, the program at
// version in cmd/lab5) into a fresh directory and returns it.
func newProject(t *testing.T, version string) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "Pulumi.yaml"), "name: p\nruntime: go\n")
	write(t, filepath.Join(root, "go.mod"), "module example.com/p\n\ngo 1.26\n")
	if err := os.MkdirAll(filepath.Join(root, "cmd", "lab5"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, programFile(root), strings.Replace(fakeProgram, "VERSION", version, 1))
	return root
}

func programFile(root string) string { return filepath.Join(root, "cmd", "lab5", "main.go") }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// binaryOf is where the tests build the project's program.
func binaryOf(root string) string { return filepath.Join(root, ".build", "lab5") }

// mustBuild builds the project's program into out, as the launcher does.
func mustBuild(t *testing.T, root, out string) {
	t.Helper()
	f, err := build(root, program, out)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// offline keeps the go command from reaching any network in the tests.
func offline(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	t.Setenv("GOFLAGS", "")
}

func runBinary(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return string(out)
}

// A source change is always picked up, even one that keeps the file's size
// and modification time (as a checkout or copy can): the decision is Go's
// build ID check over content, not a timestamp heuristic.
func TestBuildNeverReturnsAStaleBinary(t *testing.T) {
	offline(t)
	root := newProject(t, "v1")
	out := binaryOf(root)

	mustBuild(t, root, out)
	if got := runBinary(t, out); !strings.Contains(got, "version=v1") {
		t.Fatalf("first build runs %q, want version v1", got)
	}

	src := programFile(root)
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	write(t, src, strings.Replace(fakeProgram, "VERSION", "v2", 1))
	if err := os.Chtimes(src, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	mustBuild(t, root, out)
	if got := runBinary(t, out); !strings.Contains(got, "version=v2") {
		t.Fatalf("after the source changed the binary runs %q, want version v2", got)
	}
}

// With nothing changed the binary is not relinked: that is the whole
// point of the launcher. (Go touches the mtime of an up-to-date target,
// so the file's identity is compared: a relink writes a new file, and the
// extra hard link keeps the old inode number from being reused.)
func TestBuildKeepsAnUpToDateBinary(t *testing.T) {
	offline(t)
	root := newProject(t, "v1")
	out := binaryOf(root)
	mustBuild(t, root, out)
	if err := os.Link(out, out+".before"); err != nil {
		t.Fatal(err)
	}
	mustBuild(t, root, out)
	before, errBefore := os.Stat(out + ".before")
	after, errAfter := os.Stat(out)
	if err := errors.Join(errBefore, errAfter); err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("an up-to-date binary was relinked")
	}
}

// The launcher as the language host runs it: from a fresh checkout with
// nothing built yet, several at once, started in a subdirectory (it finds
// the root by Pulumi.yaml). Each runs the real program from the project
// root with the launcher's arguments and passes its exit status through.
func TestLauncherExecsTheProgram(t *testing.T) {
	offline(t)
	launcher := filepath.Join(t.TempDir(), "launcher")
	if out, err := exec.Command("go", "build", "-o", launcher, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the launcher: %v\n%s", err, out)
	}
	root := newProject(t, "v1")

	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			cmd := exec.Command(launcher, "32", "second arg")
			cmd.Dir = filepath.Join(root, "cmd")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			ee, ok := errors.AsType[*exec.ExitError](err)
			if !ok || ee.Sys().(syscall.WaitStatus).ExitStatus() != 32 {
				t.Errorf("launcher %d: %v, want exit status 32; stderr: %s", i, err, &stderr)
				return
			}
			want := `version=v1 wd=` + root + ` args=["32" "second arg"]`
			if got := strings.TrimSpace(stdout.String()); got != want {
				t.Errorf("launcher %d printed %q, want %q", i, got, want)
			}
		})
	}
	wg.Wait()
}

// A compile error is reported and the launcher fails instead of running
// an older binary.
func TestLauncherFailsOnBrokenSource(t *testing.T) {
	offline(t)
	root := newProject(t, "v1")
	out := binaryOf(root)
	mustBuild(t, root, out)
	write(t, programFile(root), "package main\n\nfunc main() { undefined() }\n")
	if f, err := build(root, program, out); err == nil {
		f.Close()
		t.Fatal("build of a broken program succeeded")
	}
}
