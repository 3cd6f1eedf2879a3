package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/lvsd/lvsd/healthcheck"
)

// maxDigestBody bounds what `lvsd digest` reads: well above what a check
// can digest, so that a body too long for a check is reported as such
// rather than cut.
const maxDigestBody = 64 << 20

// checkDigestLimit is the longest body an http check can digest (its body
// cap, 64 KiB, less one byte).
const checkDigestLimit = 64<<10 - 1

// runDigest fetches a URL as an http or https check does and prints the
// MD5 of its body in hex, the value of a url's digest (keepalived's
// genhash). Exit 0 with a response, 1 without one, 2 on a usage error.
func runDigest(env Env, args []string) int {
	fs := newFlags(env, "digest")
	host := fs.String("host", "", "send `NAME` as the Host header and TLS server name (default: the URL's host)")
	skipVerify := fs.Bool("skip-verify", false, "https: accept any server certificate, as tls_skip_verify")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after `DURATION`")
	urls, ok, code := parsePositional(env, fs, args)
	if !ok {
		return code
	}
	if len(urls) != 1 {
		fmt.Fprintln(env.Stderr, "lvsd digest: give one URL")
		fs.Usage()
		return exitStart
	}
	u, err := url.Parse(urls[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(env.Stderr, "lvsd digest: %q is not an http:// or https:// URL\n", urls[0])
		return exitStart
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	status, body, err := fetch(ctx, u, *host, *skipVerify)
	if err != nil {
		fmt.Fprintf(env.Stderr, "lvsd digest: %v\n", err)
		return exitConfig
	}
	fmt.Fprintln(env.Stdout, healthcheck.BodyDigest(body))
	fmt.Fprintf(env.Stderr, "HTTP %d, %d bytes of body\n", status, len(body))
	if len(body) > checkDigestLimit {
		fmt.Fprintf(env.Stderr, "lvsd digest: warning: an http check digests bodies under 64 KiB only; this one would fail it\n")
	}
	return exitOK
}

// fetch GETs u as a check does: a fresh connection, no redirects, no
// proxy, no compression, the check's User-Agent.
func fetch(ctx context.Context, u *url.URL, host string, skipVerify bool) (int, []byte, error) {
	tr := &http.Transport{
		DisableCompression: true,
		DisableKeepAlives:  true,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: skipVerify, //nolint:gosec // asked for on the command line
			ServerName:         host,
			MinVersion:         tls.VersionTLS12,
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, err
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("User-Agent", "lvsd-healthcheck")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDigestBody+1))
	switch {
	case err != nil:
		return 0, nil, fmt.Errorf("HTTP %d, reading body: %w", resp.StatusCode, err)
	case len(body) > maxDigestBody:
		return 0, nil, errors.New("body longer than 64 MiB")
	}
	return resp.StatusCode, body, nil
}
