// Command launcher is the Pulumi program as the Go language host sees it:
// the host compiles and runs the package in the project root, which is
// this small launcher. It brings the real program (./cmd/lab5) up to date
// with `go build` and then execs it, so that each pulumi command pays for
// a link only when a source changed.
//
// Why not runtime.options.binary: the CLI (v3.259.0) hands runtime
// options to the language host inside RunRequest.info, while the host the
// project builds (sdk/v3 v3.66.0, the last release that ships it) only
// reads them as command-line flags (-binary, -buildTarget), which newer
// CLIs no longer pass. That host therefore always runs `go build -o
// <fresh temp file>`: a full link of the 70 MB program on every command.
// Here it links this small program instead, and the big one is relinked
// only when Go's own build ID check says it changed, so a stale binary is
// never run. (The launcher sits in the root rather than Pulumi.yaml's
// main pointing elsewhere because main also moves the providers' working
// directory, and the goimage provider builds paths relative to the root.)
//
// The real program runs with the project root as its working directory,
// the same arguments, environment and exit status (the launcher is
// replaced by exec).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

// projectFile marks the project root.
const projectFile = "Pulumi.yaml"

// program is the real Pulumi program's package, relative to the root.
const program = "./cmd/lab5"

func main() {
	root, err := findRoot()
	if err == nil {
		err = launch(root, program, filepath.Join(root, ".build", "lab5"), os.Args[1:])
	}
	// launch only returns on failure.
	fmt.Fprintf(os.Stderr, "launcher: %v\n", err)
	os.Exit(1)
}

// findRoot walks up from the working directory to the directory holding
// Pulumi.yaml.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, projectFile)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s in the working directory or above it", projectFile)
		}
		dir = parent
	}
}

// launch builds package pkg of root into out and execs it from root.
func launch(root, pkg, out string, args []string) error {
	f, err := build(root, pkg, out)
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	// Exec the inode that was just built and checked, even if a concurrent
	// launcher replaces the file in between (Linux: /proc/self/fd).
	path := out
	if runtime.GOOS == "linux" {
		path = "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	}
	err = syscall.Exec(path, append([]string{out}, args...), os.Environ())
	f.Close()
	return fmt.Errorf("exec %s: %w", out, err)
}

// build runs `go build -o out pkg` in root and returns out opened for
// reading. Go skips the link when out is already up to date (its build ID
// matches the sources, dependencies, flags and toolchain), so calling it
// every time is both cheap and never stale. Concurrent launchers of the
// same project take turns through a lock file, so that none of them runs
// a half-written binary.
func build(root, pkg, out string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the Go toolchain is needed to build the program: %w", err)
	}
	// No C in the program: without cgo the go command also skips probing
	// the C compiler. No VCS stamp either: it would relink after every
	// commit or edit anywhere in the work tree. -trimpath keeps compiled
	// packages independent of where the checkout is, so a second clone
	// (or CI's fresh one) reuses them instead of compiling them again.
	cmd := exec.Command(gobin, "build", "-trimpath", "-buildvcs=false", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		if _, ok := errors.AsType[*exec.ExitError](err); ok {
			return nil, fmt.Errorf("go build of the program in %s failed (see above)", root)
		}
		return nil, fmt.Errorf("go build: %w", err)
	}
	return os.Open(out)
}
