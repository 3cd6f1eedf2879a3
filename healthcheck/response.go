package healthcheck

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// maxHead bounds the status line and header fields of a response; a
// health page's are a few hundred bytes.
const maxHead = 64 << 10

// maxChunkLine bounds one chunk-size line, extensions included.
const maxChunkLine = 4096

// maxInformational is how many interim (1xx) responses are skipped before
// the one that is judged.
const maxInformational = 4

// incompleteMsg is the verdict on a connection closed too early.
const incompleteMsg = "connection closed before a complete response"

// response is what parseResponse has learnt from the bytes received so far.
type response struct {
	// status is the final response's status code, 0 until its head is
	// complete.
	status int
	// body is the decoded body, at most maxBody bytes of it: a body is
	// judged on its start, as a server that streams without end must not
	// keep a check busy.
	body []byte
}

// parseResponse reads an HTTP/1.x response (RFC 9112) from b, every byte
// the server has sent so far; eof says the server has closed its end, so no
// more will come. It returns more = true when b holds no verdict yet and
// more bytes could bring one, and a non-nil error (an httpError, whose text
// is the check's message) when the response is malformed or cut short.
//
// It is written for one question, whether the response is complete and
// what its status and body are, and is stricter than net/http where that
// costs a health check nothing: three-digit status codes only, HTTP/1.0 or
// HTTP/1.1 only. Parsing starts over on every call; the bounds (maxHead,
// maxBody) keep that cheap.
func parseResponse(b []byte, eof bool) (r response, more bool, err error) {
	for informational := 0; ; informational++ {
		end := headEnd(b)
		if end < 0 {
			if len(b) > maxHead {
				return r, false, httpError(fmt.Sprintf("response header exceeds %d bytes", maxHead))
			}
			// Garbage is reported as soon as its first line is in, rather
			// than after a timeout waiting for a blank line that may never
			// come.
			if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
				if _, _, err := parseStatusLine(trimEOL(b[:nl+1])); err != nil {
					return r, false, err
				}
			}
			if eof {
				return r, false, httpError(incompleteMsg)
			}
			return r, true, nil
		}
		if end > maxHead {
			return r, false, httpError(fmt.Sprintf("response header exceeds %d bytes", maxHead))
		}
		h, err := parseHead(b[:end])
		if err != nil {
			return r, false, err
		}
		b = b[end:]
		// Interim answers (RFC 9110 §15.2, such as 103 Early Hints) come
		// before the real one; 101 is final, and a check never asks to
		// switch protocols.
		if h.status < 200 && h.status != 101 && informational < maxInformational {
			continue
		}
		r.status = h.status
		return h.body(r, b, eof)
	}
}

// head is what the status line and header fields say.
type head struct {
	status  int
	http10  bool
	chunked bool
	// length is the Content-Length, -1 when there is none.
	length int64
}

// body reads h's body from b, the bytes after the head.
func (h head) body(r response, b []byte, eof bool) (response, bool, error) {
	switch {
	case h.status < 200 || h.status == 204 || h.status == 304:
		// RFC 9112 §6.3: these never have a body, whatever the headers say.
		return r, false, nil
	case h.chunked:
		body, more, err := dechunk(b, eof)
		if err != nil {
			return r, false, h.bodyError(err.Error())
		}
		r.body = body
		return r, more, nil
	case h.length >= 0:
		want := min(h.length, maxBody)
		if int64(len(b)) >= want {
			r.body = b[:want]
			return r, false, nil
		}
		if eof {
			return r, false, h.bodyError(incompleteMsg)
		}
		return r, true, nil
	default:
		// Neither chunked nor a length: the body ends when the server
		// closes the connection (RFC 9112 §6.3, rule 8).
		if len(b) >= maxBody {
			r.body = b[:maxBody]
			return r, false, nil
		}
		r.body = b
		return r, !eof, nil
	}
}

// bodyError is the message of a failure while reading the body.
func (h head) bodyError(msg string) error {
	return httpError(fmt.Sprintf("HTTP %d, reading body: %s", h.status, msg))
}

// headEnd returns the length of the head at the start of b, blank line
// included, or -1 if it is not all there. Lines may end in CRLF or, as
// RFC 9112 §2.2 lets a recipient accept, a bare LF.
func headEnd(b []byte) int {
	for i := 0; ; {
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return -1
		}
		line := b[i : i+nl]
		i += nl + 1
		// A blank line ends the head. A blank first line ends it too: the
		// parse of the status line then reports there is none.
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return i
		}
	}
}

// trimEOL removes a trailing LF or CRLF.
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// parseHead parses a whole head: the status line, then the header fields.
func parseHead(b []byte) (head, error) {
	h := head{length: -1}
	nl := bytes.IndexByte(b, '\n')
	var err error
	if h.status, h.http10, err = parseStatusLine(trimEOL(b[:nl+1])); err != nil {
		return h, err
	}
	b = b[nl+1:]
	sawLength, sawTE := false, false
	var lengthText []byte // the first Content-Length's value
	// framing names the field the previous line set when it was
	// Content-Length or Transfer-Encoding.
	framing := ""
	for first := true; ; first = false {
		nl := bytes.IndexByte(b, '\n')
		line := trimEOL(b[:nl+1])
		b = b[nl+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold (RFC 9112 §5.2): the previous field's value goes on;
			// before any field there is nothing to continue.
			if first {
				return h, httpError(fmt.Sprintf("malformed MIME header initial line: %q", clip(line)))
			}
			if !isFieldValue(line) {
				return h, httpError(fmt.Sprintf("malformed MIME header line: %q", clip(line)))
			}
			// Folded into the field above, separated by a space: a
			// framing field's value then is no longer a valid one. Even
			// a blank fold adds the space (net/http then reads
			// "chunked " and rejects it), so a framing field may not be
			// folded at all.
			if framing != "" {
				return h, httpError(fmt.Sprintf("bad %s folded over lines", framing))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) || !isFieldValue(value) {
			return h, httpError(fmt.Sprintf("malformed MIME header line: %q", clip(line)))
		}
		value = bytes.Trim(value, " \t")
		framing = ""
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := parseLength(value)
			if err != nil {
				return h, err
			}
			// Repeated, the same text, as net/http requires: "2" and
			// "02" conflict.
			if sawLength && !bytes.Equal(value, lengthText) {
				return h, httpError("conflicting Content-Length headers")
			}
			sawLength, h.length, lengthText = true, n, value
			framing = "Content-Length"
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if sawTE {
				return h, httpError("too many transfer encodings")
			}
			sawTE = true
			if !bytes.EqualFold(value, []byte("chunked")) {
				return h, httpError(fmt.Sprintf("unsupported transfer encoding %q", value))
			}
			h.chunked = true
			framing = "Transfer-Encoding"
		}
	}
	if h.chunked && h.http10 {
		// Transfer-Encoding is an HTTP/1.1 feature; an HTTP/1.0 response's
		// body runs to the end of the connection or its length.
		h.chunked = false
	}
	if h.chunked {
		// RFC 9112 §6.3, rule 3: chunked framing wins over a length.
		h.length = -1
	}
	return h, nil
}

// parseStatusLine parses "HTTP/1.1 200 OK"; the reason phrase may be empty
// or missing.
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return 0, false, httpError(fmt.Sprintf("malformed HTTP response %q", clip(line)))
	}
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return 0, false, httpError(fmt.Sprintf("malformed HTTP version %q", clip(proto)))
	}
	rest = bytes.TrimLeft(rest, " ")
	code, _, _ := bytes.Cut(rest, []byte(" "))
	// RFC 9110 §15: the first digit is the class, 1 to 5; a code below
	// 100 has none, and no rule says whether it has a body.
	if len(code) != 3 || !isDigits(code) || code[0] == '0' {
		return 0, false, httpError(fmt.Sprintf("malformed HTTP status code %q", clip(code)))
	}
	return int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0'), http10, nil
}

// parseLength parses a Content-Length value: digits only.
func parseLength(v []byte) (int64, error) {
	if len(v) == 0 || !isDigits(v) {
		return 0, httpError(fmt.Sprintf("bad Content-Length %q", clip(v)))
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, httpError(fmt.Sprintf("bad Content-Length %q", clip(v)))
	}
	return n, nil
}

// dechunk decodes a chunked body (RFC 9112 §7.1) from b, up to maxBody
// bytes of data; it needs the last chunk and the trailer section's end to
// call the body complete, unless maxBody bytes come first.
func dechunk(b []byte, eof bool) (body []byte, more bool, err error) {
	for {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			if len(b) > maxChunkLine {
				return body, false, httpError("chunk size line too long")
			}
			return body, !eof, chunkEOF(eof)
		}
		if nl == 0 || b[nl-1] != '\r' {
			// Chunk framing has no bare-LF leniency: a body is data.
			return body, false, httpError("chunk size line ends with bare LF")
		}
		line := b[:nl-1]
		b = b[nl+1:]
		if bytes.IndexByte(line, '\r') >= 0 {
			// RFC 9112 §7.1: no CR inside a chunk-size line, extensions
			// included.
			return body, false, httpError(fmt.Sprintf("bare CR in chunk size line %q", clip(line)))
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		size = bytes.TrimRight(size, " \t")
		n, ok := parseHex(size)
		if !ok {
			return body, false, httpError(fmt.Sprintf("malformed chunk size %q", clip(line)))
		}
		if n == 0 {
			// The trailer section: field lines up to a blank one, in CRLF
			// as the chunk framing.
			for {
				nl := bytes.IndexByte(b, '\n')
				if nl < 0 {
					return body, !eof, chunkEOF(eof)
				}
				if nl == 0 || b[nl-1] != '\r' {
					return body, false, httpError("trailer line ends with bare LF")
				}
				line := b[:nl-1]
				b = b[nl+1:]
				if len(line) == 0 {
					return body, false, nil
				}
				name, value, ok := bytes.Cut(line, []byte(":"))
				if !ok || !isToken(name) || !isFieldValue(value) {
					return body, false, httpError(fmt.Sprintf("malformed trailer line: %q", clip(line)))
				}
			}
		}
		take := min(n, uint64(len(b)), uint64(maxBody-len(body)))
		body = append(body, b[:take]...)
		if len(body) >= maxBody {
			return body, false, nil
		}
		if uint64(len(b)) < n+2 {
			return body, !eof, chunkEOF(eof)
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return body, false, httpError("malformed chunked encoding")
		}
		b = b[n+2:]
	}
}

// chunkEOF is the error for a chunked body cut short: none while more may
// come.
func chunkEOF(eof bool) error {
	if eof {
		return httpError(incompleteMsg)
	}
	return nil
}

// parseHex parses a chunk size: 1 to 16 hex digits.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isToken reports whether b is a non-empty RFC 9110 §5.6.2 token, as a
// field name must be.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// tokenChars marks the bytes a token may hold: visible ASCII but the
// delimiters.
var tokenChars = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c)
	}
	return t
}()

// isFieldValue reports whether b may be a field value (RFC 9110 §5.5):
// visible characters, spaces and tabs, and obs-text; a CR, LF, NUL or other
// control character in it is grounds to reject the message.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// clip shortens what a message quotes of a server's answer.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
