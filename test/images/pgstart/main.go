// Command pgstart is the entrypoint of the local PostgreSQL 15 image built
// from Debian's packages (internal/localnode, StackImages). It takes the
// environment the lab's StatefulSet passes to bitnami/postgresql
// (POSTGRESQL_USERNAME, POSTGRESQL_DATABASE, POSTGRESQL_PASSWORD), creates
// the cluster under /bitnami/postgresql/data on the first start, and then
// becomes the postgres server (exec: signals and the exit code are its own).
package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

const (
	binDir  = "/usr/lib/postgresql/15/bin"
	dataDir = "/bitnami/postgresql/data"
)

func main() {
	if err := run(); err != nil {
		log.Fatal("pgstart: ", err)
	}
}

func run() error {
	user := envOr("POSTGRESQL_USERNAME", "postgres")
	db := envOr("POSTGRESQL_DATABASE", user)
	password := os.Getenv("POSTGRESQL_PASSWORD")
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initialise(user, db, password); err != nil {
			return err
		}
	}
	args := []string{"postgres", "-D", dataDir,
		"-c", "listen_addresses=*",
		// Debian's default socket folder (/var/run/postgresql) belongs to root.
		"-c", "unix_socket_directories=/tmp"}
	return syscall.Exec(filepath.Join(binDir, "postgres"), args, os.Environ())
}

// initialise runs initdb (superuser "postgres", reachable only through the
// local socket), creates the role and database in single-user mode and
// lets the role log in from the network with its password.
func initialise(user, db, password string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(binDir, "initdb"), "-D", dataDir, "-U", "postgres",
		"--encoding=UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	var sql strings.Builder
	if user != "postgres" {
		fmt.Fprintf(&sql, "CREATE ROLE %s LOGIN PASSWORD %s;\n", ident(user), literal(password))
	} else if password != "" {
		fmt.Fprintf(&sql, "ALTER ROLE postgres PASSWORD %s;\n", literal(password))
	}
	if db != "postgres" {
		fmt.Fprintf(&sql, "CREATE DATABASE %s OWNER %s;\n", ident(db), ident(user))
	}
	if sql.Len() > 0 {
		single := exec.Command(filepath.Join(binDir, "postgres"), "--single", "-D", dataDir, "postgres")
		single.Stdin = strings.NewReader(sql.String())
		single.Stdout, single.Stderr = os.Stdout, os.Stderr
		if err := single.Run(); err != nil {
			return fmt.Errorf("creating role and database: %w", err)
		}
	}
	hba, err := os.OpenFile(filepath.Join(dataDir, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer hba.Close()
	_, err = hba.WriteString("host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n")
	return err
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func ident(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
