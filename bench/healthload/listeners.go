package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// childEnv, when set in the environment, turns this binary (or the test
// binary) into the listener side: its value is "servers base port". The
// listeners run in their own process so that the checker's getrusage and
// VmHWM count the checker alone.
const childEnv = "LVSD_HEALTHLOAD_LISTENERS"

// healthyResponse is what every listener answers: a complete HTTP/1.1
// response that closes the connection, as a small health page would.
const healthyResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"

// serverAddrs returns n loopback addresses from base on, skipping host bytes
// 0 and 255 so every address also reads as an ordinary host address. Linux
// routes all of 127.0.0.0/8 to lo, so none needs configuring.
func serverAddrs(base netip.Addr, port uint16, n int) ([]netip.AddrPort, error) {
	if !base.Is4() || !base.IsLoopback() {
		return nil, fmt.Errorf("base address %v is not an IPv4 loopback address", base)
	}
	out := make([]netip.AddrPort, 0, n)
	for a := base; len(out) < n; a = a.Next() {
		if !a.IsValid() || !a.IsLoopback() {
			return nil, fmt.Errorf("%d addresses from %v leave 127.0.0.0/8", n, base)
		}
		if b := a.As4(); b[3] == 0 || b[3] == 255 {
			continue
		}
		out = append(out, netip.AddrPortFrom(a, port))
	}
	return out, nil
}

// childSpec encodes the listener set for childEnv.
func childSpec(servers int, base netip.Addr, port uint16) string {
	return fmt.Sprintf("%d %v %d", servers, base, port)
}

// listenMain is the listener process: it binds every address, prints
// "ready" and the ports, serves until its standard input closes (the checker exits or is
// done) and then prints its own CPU time and how many requests it served.
func listenMain(spec string, stdin io.Reader, stdout io.Writer) error {
	f := strings.Fields(spec)
	if len(f) != 3 {
		return fmt.Errorf("malformed %s=%q", childEnv, spec)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return fmt.Errorf("parsing server count: %w", err)
	}
	base, err := netip.ParseAddr(f[1])
	if err != nil {
		return fmt.Errorf("parsing base address: %w", err)
	}
	port, err := strconv.ParseUint(f[2], 10, 16)
	if err != nil {
		return fmt.Errorf("parsing port: %w", err)
	}
	if err := raiseFileLimit(uint64(n) + 1024); err != nil {
		return err
	}
	addrs, err := serverAddrs(base, uint16(port), n)
	if err != nil {
		return err
	}
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, a := range addrs {
		ln, err := net.Listen("tcp4", a.String())
		if err != nil {
			return fmt.Errorf("listening on %v: %w", a, err)
		}
		lns = append(lns, ln)
	}

	cpu0, err := cpuTime()
	if err != nil {
		return err
	}
	var served atomic.Int64
	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Go(func() { serve(ln, &served) })
	}
	// "ready" and the port of every listener, in address order: with port
	// 0 the kernel picks them, so that tests need no fixed port.
	var ready strings.Builder
	ready.WriteString("ready")
	for _, ln := range lns {
		fmt.Fprintf(&ready, " %d", ln.Addr().(*net.TCPAddr).Port)
	}
	if _, err := fmt.Fprintln(stdout, ready.String()); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, stdin)
	for _, ln := range lns {
		ln.Close()
	}
	wg.Wait()
	lns = nil
	cpu1, err := cpuTime()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "cpu %d served %d\n", int64(cpu1-cpu0), served.Load())
	return err
}

// serve answers one listener's clients one after the other: a listener sees
// one check per interval, so handling each inline keeps the listener side
// cheap and leaves the CPU to the checker being measured.
func serve(ln net.Listener, served *atomic.Int64) {
	buf := make([]byte, 4096)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if answer(c, buf) {
			served.Add(1)
		}
	}
}

// answer reads one request head and sends healthyResponse.
func answer(c net.Conn, buf []byte) bool {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			return false
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			return false
		}
		n += m
	}
	_, err := io.WriteString(c, healthyResponse)
	return err == nil
}

// child is the running listener process, seen from the checker.
type child struct {
	wait   func() error
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

// childResult is what the listener process reports when it ends.
type childResult struct {
	CPU    time.Duration
	Served int64
}

// stop closes the child's input and reads its final report.
func (c *child) stop() (childResult, error) {
	c.stdin.Close()
	var r childResult
	var cpu int64
	line, err := c.stdout.ReadString('\n')
	if err == nil {
		_, err = fmt.Sscanf(line, "cpu %d served %d", &cpu, &r.Served)
	}
	r.CPU = time.Duration(cpu)
	if werr := c.wait(); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return r, fmt.Errorf("listener process: %w", err)
	}
	return r, nil
}

// readReady waits for the child's "ready" line and returns the listeners'
// ports.
func (c *child) readReady(timeout time.Duration) ([]uint16, error) {
	type answer struct {
		ports []uint16
		err   error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := c.stdout.ReadString('\n')
		if err != nil {
			got <- answer{err: err}
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "ready" {
			got <- answer{err: fmt.Errorf("unexpected %q", line)}
			return
		}
		var a answer
		for _, p := range f[1:] {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				a.err = fmt.Errorf("parsing port %q: %w", p, err)
				break
			}
			a.ports = append(a.ports, uint16(n))
		}
		got <- a
	}()
	select {
	case a := <-got:
		if a.err != nil {
			return nil, fmt.Errorf("waiting for the listener process: %w", a.err)
		}
		return a.ports, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("listener process not ready after %v", timeout)
	}
}

// exitChild runs listenMain when this process was started as the listener
// side; it reports whether it did.
func exitChild() bool {
	spec, ok := os.LookupEnv(childEnv)
	if !ok {
		return false
	}
	if err := listenMain(spec, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "healthload listeners:", err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}
