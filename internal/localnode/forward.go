package localnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Forward accepts TCP connections on listen, in the caller's network
// namespace (the host's loopback), and joins each to target inside the
// network namespace at netnsPath (the node's NodePort). It is how the host
// reaches a NodePort although no interface links the namespace to the host:
// one process, with a socket on each side. It runs until ctx ends.
func Forward(ctx context.Context, listen, netnsPath, target string, logf func(string, ...any)) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, netnsPath, target, logf)
}

// Serve is Forward on a listener of the caller's.
func Serve(ctx context.Context, ln net.Listener, netnsPath, target string, logf func(string, ...any)) error {
	defer ln.Close()
	dial, err := dialerIn(netnsPath)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			up, err := dial(ctx, target)
			if err != nil {
				logf("forward %s -> %s: %v", c.RemoteAddr(), target, err)
				return
			}
			defer up.Close()
			splice(c, up)
		}()
	}
}

// splice copies both ways until both directions are done.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go half(a, b)
	go half(b, a)
	wg.Wait()
}

type dialResult struct {
	conn net.Conn
	err  error
}

type dialRequest struct {
	ctx   context.Context
	addr  string
	reply chan dialResult
}

// dialerIn returns a dial function whose sockets belong to the network
// namespace at path. A socket belongs to the namespace of the thread that
// creates it: one goroutine, locked to a thread that entered the namespace
// (and never leaves it, so the thread is never reused for anything else),
// creates them all.
func dialerIn(path string) (func(context.Context, string) (net.Conn, error), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	reqs := make(chan dialRequest)
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with the goroutine
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		ready <- err
		if err != nil {
			return
		}
		for r := range reqs {
			d := net.Dialer{Timeout: 5 * time.Second}
			c, err := d.DialContext(r.ctx, "tcp", r.addr)
			r.reply <- dialResult{c, err}
		}
	}()
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("entering network namespace %s: %w", path, err)
	}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		reply := make(chan dialResult, 1)
		select {
		case reqs <- dialRequest{ctx, addr, reply}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r := <-reply
		if r.err == nil && r.conn == nil {
			return nil, errors.New("no connection")
		}
		return r.conn, r.err
	}, nil
}
