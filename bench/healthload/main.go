// Command healthload measures lvsd's health checking at scale: thousands of
// real servers, each an HTTP listener on its own loopback address in a child
// process, checked by the healthcheck Scheduler exactly as the daemon runs
// it. It prints a markdown table and, with -write, replaces the "Health
// checks at scale" section of BENCHMARKS.md.
//
//	go run ./bench/healthload -servers 5000 -interval 1s -duration 60s -write BENCHMARKS.md
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"

	"github.com/lvsd/lvsd/bench/internal/benchdoc"
)

func main() {
	exitChild()
	if err := benchMain(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "healthload:", err)
		os.Exit(1)
	}
}

func benchMain(args []string) error {
	fs := flag.NewFlagSet("healthload", flag.ContinueOnError)
	var cfg config
	fs.IntVar(&cfg.Servers, "servers", 5000, "real servers (listeners) to check")
	fs.DurationVar(&cfg.Interval, "interval", 1e9, "check interval")
	fs.DurationVar(&cfg.Timeout, "timeout", 5e8, "check timeout (the config requires it below the interval)")
	fs.DurationVar(&cfg.Duration, "duration", 60e9, "how long to measure")
	base := fs.String("base", "127.1.0.1", "first listener address, in 127.0.0.0/8")
	port := fs.Uint("port", 8080, "listener port (0: a free port for each)")
	write := fs.String("write", "", "replace the section in this markdown file (BENCHMARKS.md)")
	cpuprofile := fs.String("cpuprofile", "", "write the checker's CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.Base, err = netip.ParseAddr(*base); err != nil {
		return fmt.Errorf("-base: %w", err)
	}
	if *port > 65535 {
		return fmt.Errorf("-port %d out of range", *port)
	}
	cfg.Port = uint16(*port)

	var hooks func() func()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		hooks = func() func() {
			if err := pprof.StartCPUProfile(f); err != nil {
				fmt.Fprintln(os.Stderr, "healthload: cpu profile:", err)
				return nil
			}
			return pprof.StopCPUProfile
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := run(ctx, cfg, hooks)
	if err != nil {
		return err
	}
	// The measuring flags only: where the output went (-write, -cpuprofile)
	// does not change the figures.
	command := fmt.Sprintf("go run ./bench/healthload -servers %d -interval %v -timeout %v -duration %v",
		cfg.Servers, cfg.Interval, cfg.Timeout, cfg.Duration)
	if *base != "127.1.0.1" || *port != 8080 {
		command += fmt.Sprintf(" -base %v -port %d", cfg.Base, cfg.Port)
	}
	fmt.Print(r.section(command))
	for _, m := range r.FailSample {
		fmt.Println("failed:", m)
	}
	if *write != "" {
		return benchdoc.Write(*write, r.section(command))
	}
	return nil
}
