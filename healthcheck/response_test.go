package healthcheck

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var parseCases = []struct {
	name     string
	in       string
	eof      bool // the server closed after sending in
	wantMore bool
	status   int
	body     string
	err      string // regular expression; "" for no error
}{
	{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", status: 200, body: "ok\n"},
	{name: "length, more than it says", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\njunk", status: 200, body: "ok"},
	{name: "length not yet all there", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", wantMore: true},
	{name: "length cut short", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", eof: true, err: `^HTTP 200, reading body: connection closed before a complete response$`},
	{name: "zero length", in: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", status: 503},
	{name: "bare LF lines", in: "HTTP/1.0 200 OK\nContent-Length: 2\n\nok", status: 200, body: "ok"},
	{name: "no reason phrase", in: "HTTP/1.1 204\r\n\r\n", status: 204},
	{name: "204 has no body whatever it says", in: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", status: 204},
	{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", status: 304},
	{name: "to the end of the connection", in: "HTTP/1.1 200 OK\r\n\r\nall of it", eof: true, status: 200, body: "all of it"},
	{name: "to the end, not there yet", in: "HTTP/1.1 200 OK\r\n\r\nall of it", wantMore: true},
	{name: "to the end, judged on its start", in: "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("x", maxBody+10), status: 200, body: strings.Repeat("x", maxBody)},
	{name: "large length, judged on its start", in: "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("y", maxBody), status: 200, body: strings.Repeat("y", maxBody)},
	{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n", status: 200, body: "abcde"},
	{name: "chunked with trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n", status: 200, body: "0123456789"},
	{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", status: 200, body: "ok"},
	{name: "chunked, last chunk missing", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", wantMore: true},
	{name: "chunked cut short", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", eof: true, err: `^HTTP 200, reading body: connection closed before a complete response$`},
	{name: "chunked, bad size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: `reading body: malformed chunk size`},
	{name: "chunked, data overruns", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n", err: `reading body: malformed chunked encoding`},
	{name: "HTTP/1.0 ignores transfer coding", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok", eof: true, status: 200, body: "2\r\nok"},
	{name: "interim answers skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
	{name: "interim answer, then nothing yet", in: "HTTP/1.1 100 Continue\r\n\r\n", wantMore: true},
	{name: "too many interim answers", in: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6), status: 100},
	{name: "101 is final", in: "HTTP/1.1 101 Switching Protocols\r\n\r\n", status: 101},
	{name: "head not yet all there", in: "HTTP/1.1 200 OK\r\nContent-Le", wantMore: true},
	{name: "head cut short", in: "HTTP/1.1 200 OK\r\n", eof: true, err: `^connection closed before a complete response$`},
	{name: "nothing at all", in: "", eof: true, err: `^connection closed before a complete response$`},
	{name: "garbage first line, known at once", in: "SSH-2.0-OpenSSH_9.2\r\n", err: `^malformed HTTP`},
	{name: "wrong version", in: "HTTP/2.0 200 OK\r\n\r\n", err: `^malformed HTTP version`},
	{name: "short status code", in: "HTTP/1.1 20 OK\r\n\r\n", err: `^malformed HTTP status code`},
	{name: "status code not digits", in: "HTTP/1.1 +20 OK\r\n\r\n", err: `^malformed HTTP status code`},
	{name: "blank first line", in: "\r\nHTTP/1.1 200 OK\r\n\r\n", err: `^malformed HTTP response`},
	{name: "header without colon", in: "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok", err: `^malformed MIME header line`},
	{name: "space before colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", err: `^malformed MIME header line`},
	{name: "length folded over two lines", in: "HTTP/1.0 200 OK\nContent-Length: 000\n 00\n\n00", err: `^bad Content-Length folded over lines`},
	{name: "coding folded with a blank line", in: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n \n\n0\r\n\r\n", err: `^bad Transfer-Encoding folded over lines`},
	{name: "other field folded over two lines", in: "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
	{name: "fold before any field", in: "HTTP/1.1 200 OK\r\n X: y\r\n\r\n", err: `^malformed MIME header initial line`},
	{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: `^bad Content-Length`},
	{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok", err: `^conflicting Content-Length`},
	{name: "same length twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
	{name: "status below 100", in: "HTTP/1.0 099 Odd\n\nbody", err: `^malformed HTTP status code "099"`},
	{name: "same length written two ways", in: "HTTP/1.0 200 \nContent-Length:2\nContent-Length:02\n\n00", err: `^conflicting Content-Length`},
	{name: "unknown transfer coding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: `^unsupported transfer encoding`},
	{name: "head too large", in: "HTTP/1.1 200 OK\r\nX-Junk: " + strings.Repeat("a", maxHead), err: `^response header exceeds 65536 bytes$`},
}

func TestParseResponse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			r, more, err := parseResponse([]byte(tc.in), tc.eof)
			if tc.err != "" {
				if err == nil || !regexp.MustCompile(tc.err).MatchString(err.Error()) {
					t.Fatalf("parseResponse = %v, more %t, error %v; want an error matching %q", r, more, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseResponse: %v", err)
			}
			if more != tc.wantMore {
				t.Fatalf("more = %t, want %t", more, tc.wantMore)
			}
			if more {
				return
			}
			if r.status != tc.status || string(r.body) != tc.body {
				t.Errorf("parseResponse = status %d, body %q; want %d, %q", r.status, clip(r.body), tc.status, clip([]byte(tc.body)))
			}
		})
	}
}

// TestParseResponseByPieces feeds each complete response a byte at a time,
// as a slow server would send it: before the last byte the parser must ask
// for more or already hold the final verdict, never fail or judge
// otherwise.
func TestParseResponseByPieces(t *testing.T) {
	for _, tc := range parseCases {
		if tc.err != "" || tc.wantMore || len(tc.in) > 1000 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			final, _, err := parseResponse([]byte(tc.in), tc.eof)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(tc.in) {
				r, more, err := parseResponse([]byte(tc.in[:i]), false)
				switch {
				case err != nil:
					t.Fatalf("after %d bytes: %v", i, err)
				case !more && (r.status != final.status || !bytes.Equal(r.body, final.body)):
					t.Fatalf("after %d bytes: status %d, body %q; the whole answer gives %d, %q", i, r.status, r.body, final.status, final.body)
				}
			}
		})
	}
}

// FuzzParseResponse holds the parser to two promises on any input: a
// verdict given before the end of the answer is the verdict on the whole
// answer (a check stops reading once it has one), and a response it
// accepts, net/http reads the same way: same status, same body.
func FuzzParseResponse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		whole, more, err := parseResponse(b, true)
		if more {
			t.Fatalf("asks for more after the end: %q", b)
		}
		i := int(cut) % (len(b) + 1)
		early, emore, eerr := parseResponse(b[:i], false)
		if eerr == nil && !emore {
			if err != nil || early.status != whole.status || !bytes.Equal(early.body, whole.body) {
				t.Fatalf("after %d bytes: status %d body %q; whole: status %d body %q error %v; input %q",
					i, early.status, early.body, whole.status, whole.body, err, b)
			}
		}
		if eerr != nil && err == nil {
			t.Fatalf("after %d bytes: %v, but the whole answer passes; input %q", i, eerr, b)
		}
		if err != nil {
			return
		}
		status, body, gerr := readWithNetHTTP(b)
		if gerr != nil {
			t.Fatalf("accepted (status %d) what net/http rejects (%v): %q", whole.status, gerr, b)
		}
		if status != whole.status || !bytes.Equal(body, whole.body) {
			t.Fatalf("status %d body %q; net/http reads status %d body %q; input %q", whole.status, whole.body, status, body, b)
		}
	})
}

// readWithNetHTTP reads b as the checker did before it had its own parser.
func readWithNetHTTP(b []byte) (int, []byte, error) {
	br := bufio.NewReader(bytes.NewReader(b))
	var resp *http.Response
	var err error
	for range maxInformational + 1 {
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			break
		}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, body, err
}

func BenchmarkParseResponse(b *testing.B) {
	in := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\nDate: Sat, 21 Nov 2026 12:00:00 GMT\r\nServer: nginx\r\n\r\nok\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, more, err := parseResponse(in, false); err != nil || more {
			b.Fatal(more, err)
		}
	}
}
