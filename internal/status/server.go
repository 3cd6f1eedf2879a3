package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Source hands out the daemon's current status. It is called once per
// request (and per metrics scrape) from the HTTP server's goroutines, so it
// must be safe for concurrent use and return a snapshot the daemon will not
// change afterwards.
type Source interface {
	Status() Document
}

// Reloader re-reads the config file and applies it.
// applied is false when the new config was rejected; diagnostics then say
// why, in the `lvsd validate` format. err is for failures other than an
// invalid config.
type Reloader interface {
	Reload(ctx context.Context) (applied bool, diagnostics string, err error)
}

// ReloadResult is the body of the answer to POST /reload.
type ReloadResult struct {
	Applied     bool   `json:"applied"`
	Diagnostics string `json:"diagnostics"`
	Error       string `json:"error,omitempty"`
}

// socketMode keeps the control socket to root: reload is an
// administrative act and the status names every backend.
const socketMode = 0o600

// shutdownGrace bounds how long Serve waits for requests in flight once
// its context ends; a reload still running after that is cut off.
const shutdownGrace = 2 * time.Second

// Control is a bound control socket, not yet answering. The daemon binds
// it before it tells systemd it is ready, so that a socket it cannot have
// fails the start instead of a running daemon.
type Control struct {
	ln   *net.UnixListener
	path string
}

// ListenControl binds the control socket at path. It creates the socket's
// directory (mode 0755) if missing and replaces a stale socket file, but
// refuses to take over a socket that another daemon still answers on.
func ListenControl(path string) (*Control, error) {
	ln, err := listenUnix(path)
	if err != nil {
		return nil, err
	}
	return &Control{ln: ln, path: path}, nil
}

// Serve answers GET /status and POST /reload until ctx ends, then closes
// the listener, removes the socket file and returns nil. rel may be nil:
// /reload then answers 501.
func (c *Control) Serve(ctx context.Context, src Source, rel Reloader) error {
	defer os.Remove(c.path)
	return serveHTTP(ctx, c.ln, Handler(src, rel))
}

// Close releases a control socket that will not be served.
func (c *Control) Close() {
	c.ln.Close()
	os.Remove(c.path)
}

// listenUnix binds the socket under a temporary name, sets its mode and
// only then renames it into place, so that no client can ever find the
// path with the looser mode the umask gave at bind time.
func listenUnix(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the control socket's directory: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, ".lvsd-"+strconv.Itoa(os.Getpid())+".sock")
	_ = os.Remove(tmp) // left over by a crashed daemon that had our pid
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on the control socket: %w", err)
	}
	// The file is renamed below; Close must not unlink whatever then
	// sits at the temporary name. Serve removes path itself.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, socketMode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("setting the control socket's mode: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("placing the control socket at %s: %w", path, err)
	}
	return ln, nil
}

// removeStale removes a socket file that nobody answers on: what a daemon
// killed with SIGKILL leaves behind.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the control socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket %s exists and is not a socket; remove it or choose another path", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s is in use: is another lvsd running? (pass --socket to run several)", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing stale control socket: %w", err)
	}
	return nil
}

// serveHTTP serves h on ln until ctx ends; it owns ln and closes it.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		// Serve only returns on its own when the listener fails.
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}

// Handler is the control socket's HTTP handler, exported so the daemon may
// mount it elsewhere and tests may drive it without a socket.
func Handler(src Source, rel Reloader) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, src.Status().wire())
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		if rel == nil {
			writeJSON(w, http.StatusNotImplemented, ReloadResult{Error: "this daemon cannot reload"})
			return
		}
		applied, diags, err := rel.Reload(r.Context())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, ReloadResult{Diagnostics: diags, Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, ReloadResult{Applied: applied, Diagnostics: diags})
	})
	// Go's profiles, for an operator chasing CPU or memory: only root
	// reaches the socket (mode 0600), and nothing runs until asked.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encoding status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
