package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// UnreachableError says that nothing answered on the control socket: the
// daemon is not running, runs with another --socket, or we may not talk to
// it. `lvsd status` turns it into exit status 1.
type UnreachableError struct {
	Path string
	Err  error
}

func (e *UnreachableError) Error() string {
	return "cannot reach the daemon at " + e.Path + ": " + cause(e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// cause shortens a dial error to what a user acts on: "dial unix
// /run/lvsd/lvsd.sock: connect: no such file or directory" becomes "no
// such file or directory".
func cause(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// Get fetches the status document from the daemon listening at path.
func Get(ctx context.Context, path string) (Document, error) {
	var d Document
	b, err := GetJSON(ctx, path)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("decoding the daemon's status: %w", err)
	}
	return d, nil
}

// GetJSON returns the status document as the daemon wrote it, so that
// `lvsd status --json` passes on fields a newer daemon adds.
func GetJSON(ctx context.Context, path string) ([]byte, error) {
	resp, err := do(ctx, path, http.MethodGet, "/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpError(resp)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the daemon's status: %w", err)
	}
	return b, nil
}

// Reload asks the daemon listening at path to reload its config. A
// rejected config is not an error: applied is false and diagnostics say
// why.
func Reload(ctx context.Context, path string) (applied bool, diagnostics string, err error) {
	resp, err := do(ctx, path, http.MethodPost, "/reload")
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	var r ReloadResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return false, "", fmt.Errorf("decoding the daemon's reload answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if r.Error != "" {
		return false, r.Diagnostics, fmt.Errorf("daemon failed to reload: %s", r.Error)
	}
	if resp.StatusCode != http.StatusOK {
		return false, r.Diagnostics, fmt.Errorf("daemon answered reload with HTTP %d", resp.StatusCode)
	}
	return r.Applied, r.Diagnostics, nil
}

// do sends one request over a fresh connection: the CLI asks once and
// exits, so there is nothing to keep alive, and no idle-connection
// goroutine outlives the call.
func do(ctx context.Context, path, method, urlPath string) (*http.Response, error) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	defer tr.CloseIdleConnections()
	// The host is a placeholder: the transport always dials path.
	req, err := http.NewRequestWithContext(ctx, method, "http://lvsd"+urlPath, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, &UnreachableError{Path: path, Err: op}
		}
		return nil, fmt.Errorf("asking the daemon at %s: %w", path, err)
	}
	return resp, nil
}

func httpError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("daemon answered HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
}

// IsPermission reports whether err is a refusal to use the socket, which
// for a 0600 root socket means "run as root" rather than "start lvsd".
func IsPermission(err error) bool {
	return errors.Is(err, fs.ErrPermission)
}
