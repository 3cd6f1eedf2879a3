package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/lvsd/lvsd/internal/daemon"
)

// runRun is `lvsd run`: the daemon in the foreground, as systemd's
// Type=notify service runs it. SIGTERM and SIGINT stop it, SIGHUP reloads.
func runRun(env Env, args []string) int {
	fs := newFlags(env, "run")
	file, node := configFlags(env, fs)
	socket := fs.String("socket", env.Getenv("LVSD_SOCKET"), "control socket `PATH`, overriding status.socket (env LVSD_SOCKET)")
	logFormat := fs.String("log-format", "text", "log format on stderr: text or json")
	logLevel := fs.String("log-level", "info", "least important log level: debug, info, warn or error")
	if ok, code := parse(env, fs, args); !ok {
		return code
	}
	log, err := newLogger(env.Stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(env.Stderr, "lvsd run: %v\n", err)
		return exitStart
	}
	d := daemon.New(daemon.Options{
		ConfigFile: *file,
		Node:       *node,
		Socket:     *socket,
		Logger:     log,
		Hostname:   env.Hostname,
	})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloads := make(chan struct{})
	go func() {
		defer close(reloads)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the config")
				// Reload logs its outcome itself.
				_, _, _ = d.Reload(ctx)
			}
		}
	}()

	err = d.Run(ctx)
	stop()
	<-reloads
	return runExit(env.Stderr, err)
}

// runExit maps Run's outcome to the documented exit status: 0 after a clean
// stop, 1 for a config error (with its diagnostics), 2 for any other
// start-up failure (one line saying what to do).
func runExit(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ce *daemon.ConfigError
	if errors.As(err, &ce) {
		io.WriteString(stderr, withNewline(ce.Report()))
		return exitConfig
	}
	fmt.Fprintf(stderr, "lvsd: %v\n", err)
	return exitStart
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
