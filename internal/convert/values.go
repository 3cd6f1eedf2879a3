package convert

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/internal/keepalived"
)

// uint reads argument i as a decimal number in min..max.
func (fc *fileConv) uint(s *keepalived.Stmt, i int, min, max uint64) (uint64, bool) {
	if i >= len(s.Args) {
		fc.c.errorf(s.Pos(), "%s needs a value", s.Key.Text)
		return 0, false
	}
	w := s.Args[i]
	v, err := strconv.ParseUint(w.Text, 10, 64)
	if err != nil || v < min || v > max {
		fc.c.errorf(w.Pos, "%s: %q is not a number in %d..%d", s.Key.Text, w.Text, min, max)
		return 0, false
	}
	return v, true
}

// seconds reads argument i as keepalived reads a timer: decimal seconds
// with at most six digits after the point, in min..max.
func (fc *fileConv) seconds(s *keepalived.Stmt, i int, min, max time.Duration) (time.Duration, bool) {
	if i >= len(s.Args) {
		fc.c.errorf(s.Pos(), "%s needs a value", s.Key.Text)
		return 0, false
	}
	w := s.Args[i]
	d, ok := parseSeconds(w.Text)
	if !ok || d < min || d > max {
		fc.c.errorf(w.Pos, "%s: %q is not a number of seconds in %s..%s", s.Key.Text, w.Text, fmtDur(min), fmtDur(max))
		return 0, false
	}
	return d, true
}

func parseSeconds(s string) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 6 {
		return 0, false
	}
	var w uint64
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 32); err != nil {
			return 0, false
		}
	}
	var us uint64
	if frac != "" {
		f, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return 0, false
		}
		us = f
		for n := len(frac); n < 6; n++ {
			us *= 10
		}
	}
	return time.Duration(w)*time.Second + time.Duration(us)*time.Microsecond, true
}

// fmtDur writes a duration the way a person would in the cluster file.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}

// boolArg reads keepalived's optional boolean argument (on/true/yes,
// off/false/no); a missing one is true.
func (fc *fileConv) boolArg(s *keepalived.Stmt) (bool, bool) {
	if len(s.Args) == 0 {
		return true, true
	}
	switch s.Arg(0) {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	fc.c.errorf(s.Args[0].Pos, "%s: %q is not true or false", s.Key.Text, s.Arg(0))
	return false, false
}

// addr reads argument i as an IP address.
func (fc *fileConv) addr(s *keepalived.Stmt, i int) (netip.Addr, bool) {
	if i >= len(s.Args) {
		fc.c.errorf(s.Pos(), "%s needs an address", s.Key.Text)
		return netip.Addr{}, false
	}
	return fc.addrWord(s.Key.Text, s.Args[i])
}

func (fc *fileConv) addrWord(what string, w keepalived.Word) (netip.Addr, bool) {
	a, err := netip.ParseAddr(w.Text)
	if err != nil || a.Zone() != "" {
		fc.c.errorf(w.Pos, "%s: %q is not an IP address", what, w.Text)
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// port reads an optional port argument; a missing one is 0.
func (fc *fileConv) port(s *keepalived.Stmt, i int) (uint16, bool) {
	if i >= len(s.Args) {
		return 0, true
	}
	v, ok := fc.uint(s, i, 0, 65535)
	return uint16(v), ok
}
