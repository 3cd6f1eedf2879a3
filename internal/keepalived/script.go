package keepalived

import (
	"errors"
	"fmt"
	"strings"
)

// Script is a command as keepalived runs it for notify_master, misc_path
// and the other script keywords.
type Script struct {
	// Argv is run with execve, without a shell.
	Argv []string
	// User and Group are the optional words after the command
	// (notify_master "/bin/x arg" USER [GROUP]); "" when absent.
	User, Group string
}

// ErrNoScript is returned for a script keyword without a command.
var ErrNoScript = errors.New("no command given")

// SplitScript splits a script statement the way keepalived does: the
// statement's text is re-read with single and double quotes (no escapes),
// its second word is the command line, and that is split again into argv
// with quotes and backslash escapes. So `notify_master /bin/x arg` runs
// /bin/x as user "arg", and `notify_master "/bin/x 'a b'"` runs /bin/x
// with the one argument "a b".
func SplitScript(s *Stmt) (Script, error) {
	words, err := splitQuoted(s.Raw, false)
	if err != nil {
		return Script{}, err
	}
	if len(words) < 2 {
		return Script{}, ErrNoScript
	}
	argv, err := splitQuoted(words[1], true)
	if err != nil {
		return Script{}, err
	}
	if len(argv) == 0 {
		return Script{}, ErrNoScript
	}
	sc := Script{Argv: argv}
	if len(words) > 2 {
		sc.User = words[2]
	}
	if len(words) > 3 {
		sc.Group = words[3]
	}
	return sc, nil
}

const whiteSpace = " \t\n\r\f\v"

// splitQuoted is keepalived's alloc_strvec_quoted_escaped_common: words
// separated by blanks, where '…' and "…" group and a backslash escapes the
// next character (translated as C escapes when escapes is set, kept with
// its backslash otherwise).
func splitQuoted(src string, escapes bool) ([]string, error) {
	var words []string
	i := 0
	for i < len(src) {
		for i < len(src) && strings.IndexByte(whiteSpace, src[i]) >= 0 {
			i++
		}
		if i >= len(src) {
			break
		}
		var b strings.Builder
		var quote byte
	word:
		for i < len(src) {
			c := src[i]
			switch {
			case c == '\\':
				i++
				if i >= len(src) {
					return nil, fmt.Errorf("%q ends with a lone backslash", src)
				}
				if !escapes {
					b.WriteByte('\\')
					b.WriteByte(src[i])
					i++
					continue
				}
				i = unescape(src, i, &b)
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote != 0:
				b.WriteByte(c)
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case strings.IndexByte(whiteSpace, c) >= 0:
				break word
			default:
				b.WriteByte(c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("%q: missing terminating %c", src, quote)
		}
		words = append(words, b.String())
	}
	return words, nil
}

// unescape writes the character escaped at src[i] (the byte after the
// backslash) and returns the index after the escape.
func unescape(src string, i int, b *strings.Builder) int {
	c := src[i]
	switch {
	case c == 'x' && i+1 < len(src) && isHex(src[i+1]):
		i++
		var v byte
		for n := 0; n < 2 && i < len(src) && isHex(src[i]); n++ {
			v = v<<4 | hexVal(src[i])
			i++
		}
		b.WriteByte(v)
		return i
	case c == 'c' && i+1 < len(src):
		b.WriteByte(src[i+1] & 0x1f)
		return i + 2
	case c >= '0' && c <= '7':
		v := c - '0'
		i++
		for n := 0; n < 2 && i < len(src) && src[i] >= '0' && src[i] <= '7'; n++ {
			v = v<<3 + src[i] - '0'
			i++
		}
		b.WriteByte(v)
		return i
	}
	switch c {
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 'E':
		c = 0x1b
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'v':
		c = '\v'
	}
	b.WriteByte(c)
	return i + 1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
