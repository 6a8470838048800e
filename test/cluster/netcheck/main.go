// Command netcheck is the real-node smoke test's pod: an HTTP server that
// says who answered, and the client side of the checks (HTTP GET, DNS
// lookup, TCP dial), each with a short deadline so a blocked path fails
// fast instead of hanging the test.
//
//	netcheck serve [-addr :8080] [-ready-after 3s]
//	netcheck get URL | resolve NAME | dial HOST:PORT | write FILE TEXT | read FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const deadline = 3 * time.Second

func main() {
	if len(os.Args) < 2 {
		fatal("usage: netcheck serve|get|resolve|dial ...")
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "get":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, arg(), nil)
		if err != nil {
			fatal(err.Error())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fatal(err.Error())
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	case "resolve":
		addrs, err := net.DefaultResolver.LookupHost(ctx, arg())
		if err != nil {
			fatal(err.Error())
		}
		fmt.Println(strings.Join(addrs, " "))
	case "dial":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", arg())
		if err != nil {
			fatal(err.Error())
		}
		c.Close()
		fmt.Println("connected")
	case "write":
		if len(os.Args) < 4 {
			fatal("write: FILE TEXT")
		}
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fatal(err.Error())
		}
	case "read":
		data, err := os.ReadFile(arg())
		if err != nil {
			fatal(err.Error())
		}
		fmt.Println(string(data))
	default:
		fatal("unknown command " + os.Args[1])
	}
}

func arg() string {
	if len(os.Args) < 3 {
		fatal(os.Args[1] + ": argument missing")
	}
	return os.Args[2]
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "netcheck:", msg)
	os.Exit(1)
}

// serve answers every path with the pod's name; /healthz fails until
// ready-after has passed, so that the kubelet's readiness probe is seen
// failing first (an event) and then passing.
func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", ":8080", "listen address")
	readyAfter := fs.Duration("ready-after", 0, "answer /healthz with 503 until this long after start")
	_ = fs.Parse(args)
	start := time.Now()
	host, _ := os.Hostname()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s (%s)", r.Method, r.URL.Path, r.RemoteAddr, r.UserAgent())
		if time.Since(start) < *readyAfter {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s (%s)", r.Method, r.URL.Path, r.RemoteAddr, r.UserAgent())
		fmt.Fprintln(w, host)
	})
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
