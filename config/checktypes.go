package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The check types that probe something other than a TCP connection or an
// HTTP exchange: a UDP datagram, a DNS query, an ICMP echo and an SMTP
// greeting, after keepalived's UDP_CHECK, DNS_CHECK, PING_CHECK and
// SMTP_CHECK.
const (
	CheckUDP  CheckType = "udp"
	CheckDNS  CheckType = "dns"
	CheckPing CheckType = "ping"
	CheckSMTP CheckType = "smtp"
)

// Defaults of the type options.
const (
	defaultQueryType = "SOA"
	defaultQueryName = "."
	// DefaultHELOName is keepalived's, so that a mail server's rules for
	// keepalived's checks hold for lvsd's.
	DefaultHELOName = "smtpchecker.keepalived.org"
)

// QueryTypes are the DNS query types a dns check may ask: keepalived's
// DNS_CHECK set, and PTR and SRV.
var QueryTypes = []string{"A", "AAAA", "CNAME", "DNSKEY", "MX", "NS", "PTR", "RRSIG", "SOA", "SRV", "TXT"}

// TypeOptions are the options of the udp, dns and smtp check types.
type TypeOptions struct {
	// udp
	Payload      []byte // sent as is; empty = an empty datagram
	RequireReply bool   // true whenever ExpectReply is set
	ExpectReply  []byte // what a reply must hold; empty = any reply
	// ExpectReplyMask has ExpectReply's length when an X digit was used:
	// its set bits are not compared. nil compares every bit.
	ExpectReplyMask []byte
	MinReplyLength  int
	MaxReplyLength  int // 0 = no limit

	// dns
	QueryType    string // one of QueryTypes, upper case
	QueryName    string
	ExpectAnswer []string

	// smtp
	HELOName string
}

// checkTypeAttrs are the health_check attributes of the udp, dns and smtp
// types.
var checkTypeAttrs = []*attrSpec{
	{Name: "payload", Kind: kString, Default: `""`, Checks: []string{"udp"},
		Doc: "datagram sent, in hex digits with spaces anywhere (`\"0a 1b2c\"`), as keepalived reads it; `\"\"` = an empty datagram"},
	{Name: "require_reply", Kind: kBool, Default: "false", Checks: []string{"udp"},
		Doc: "a reply is needed to pass; without one, only an ICMP error (port, host or network unreachable) fails the check"},
	{Name: "expect_reply", Kind: kString, Default: `""`, Checks: []string{"udp"},
		Doc: "hex the reply must match over the shorter of the two (keepalived's rule); an `X` digit matches any; sets `require_reply`"},
	{Name: "min_reply_length", Kind: kInt, Min: 0, Max: maxUint16, Default: "0", Checks: []string{"udp"},
		Doc: "shortest reply that passes, in bytes, when a reply is required"},
	{Name: "max_reply_length", Kind: kInt, Min: 0, Max: maxUint16, Default: "0", Checks: []string{"udp"},
		Doc: "longest reply that passes, in bytes, when a reply is required; 0 = no limit"},
	{Name: "type", Kind: kString, Default: `"` + defaultQueryType + `"`, Checks: []string{"dns"},
		Doc: "query type: " + strings.Join(QueryTypes, ", ")},
	{Name: "name", Kind: kString, Default: `"` + defaultQueryName + `"`, Checks: []string{"dns"},
		Doc: "name queried; the check passes on a NOERROR response, with or without records"},
	{Name: "expect_answer", Kind: kStringList, Default: "[]", Checks: []string{"dns"},
		Doc: "values the answer must all hold, as a zone file writes a record's data (`\"192.0.2.1\"`, `\"10 mx.example.com.\"`)"},
	{Name: "helo_name", Kind: kString, Default: `"` + DefaultHELOName + `"`, Checks: []string{"smtp"},
		Doc: "name given in HELO"},
}

// hasPort reports whether the check type probes a port: all but exec (a
// command) and ping (ICMP).
func (t CheckType) hasPort() bool { return t != CheckExec && t != CheckPing }

// typeOptions reads the udp, dns and smtp attributes of hb into hc.
func (b *builder) typeOptions(hb *block, hc *HealthCheck) {
	switch hc.Type {
	case CheckDNS:
		hc.QueryType, hc.QueryName = defaultQueryType, defaultQueryName
	case CheckSMTP:
		hc.HELOName = DefaultHELOName
	}
	if v := hb.get("payload"); v != nil {
		data, _, err := ParseHex(v.str, false)
		if err != nil {
			b.errorf(v.rng, "payload: %v", err)
		}
		hc.Payload = data
	}
	if v := hb.get("require_reply"); v != nil {
		hc.RequireReply = v.b
	}
	if v := hb.get("expect_reply"); v != nil {
		data, mask, err := ParseHex(v.str, true)
		switch {
		case err != nil:
			b.errorf(v.rng, "expect_reply: %v", err)
		case len(data) == 0:
			b.errorf(v.rng, "expect_reply must not be empty; leave it out and set require_reply for any reply")
		}
		hc.ExpectReply, hc.ExpectReplyMask = data, mask
		hc.RequireReply = hc.RequireReply || len(data) > 0
	}
	if v := hb.get("min_reply_length"); v != nil {
		hc.MinReplyLength = int(v.num)
	}
	if v := hb.get("max_reply_length"); v != nil {
		hc.MaxReplyLength = int(v.num)
		if hc.MaxReplyLength > 0 && hc.MinReplyLength > hc.MaxReplyLength {
			b.errorf(v.rng, "max_reply_length %d is less than min_reply_length %d: no reply would pass", hc.MaxReplyLength, hc.MinReplyLength)
		}
	}
	if v := hb.get("type"); v != nil {
		if t := strings.ToUpper(v.str); slices.Contains(QueryTypes, t) {
			hc.QueryType = t
		} else {
			b.errorf(v.rng, "unknown query type %q (want %s)", v.str, strings.Join(QueryTypes, ", "))
		}
	}
	if v := hb.get("name"); v != nil {
		if err := checkDNSName(v.str); err != nil {
			b.errorf(v.rng, "name: %v", err)
		}
		hc.QueryName = v.str
	}
	if v := hb.get("expect_answer"); v != nil {
		for _, it := range v.list {
			s := strings.TrimSpace(it.str)
			// An address is compared as an address, so "2001:DB8:0::1"
			// matches what a server sends.
			if a, err := netip.ParseAddr(s); err == nil && (hc.QueryType == "A" || hc.QueryType == "AAAA") {
				if a.Is4() != (hc.QueryType == "A") {
					b.errorf(it.rng, "expect_answer %q is not an address of a %s record", it.str, hc.QueryType)
				}
				s = a.String()
			} else if hc.QueryType == "A" || hc.QueryType == "AAAA" {
				b.errorf(it.rng, "expect_answer %q is not an IP address, as a %s record holds", it.str, hc.QueryType)
			}
			if s == "" {
				b.errorf(it.rng, "expect_answer values must not be empty")
			}
			hc.ExpectAnswer = append(hc.ExpectAnswer, s)
		}
	}
	if v := hb.get("helo_name"); v != nil {
		// It goes into the HELO line: a space or a control character
		// would change the command.
		switch {
		case v.str == "":
			b.errorf(v.rng, "helo_name must not be empty")
		case strings.ContainsAny(v.str, " \t"):
			b.errorf(v.rng, "helo_name %q must be one word", v.str)
		default:
			b.name("helo_name", v.str, v.rng)
		}
		hc.HELOName = v.str
	}
}

// ParseHex reads a string of hex digits as keepalived does: spaces and tabs
// separate groups anywhere, and a group of odd length is read as pairs
// with a last lone digit standing for one byte ("Ab12f 3" is AB 12 0F 03).
// With wildcards, an X digit matches anything: its bits are set in mask,
// which is nil when no X was used.
func ParseHex(s string, wildcards bool) (data, mask []byte, err error) {
	var masked bool
	for group := range strings.FieldsSeq(s) {
		for i := 0; i < len(group); i += 2 {
			pair := group[i:min(i+2, len(group))]
			var v, m byte
			for _, c := range []byte(pair) {
				d, dm, ok := hexDigit(c, wildcards)
				if !ok {
					if c == 'x' || c == 'X' {
						return nil, nil, fmt.Errorf("%q: an X digit (any value) is only allowed in a reply", s)
					}
					return nil, nil, fmt.Errorf("%q: %q is not a hex digit", s, c)
				}
				v, m = v<<4|d, m<<4|dm
			}
			masked = masked || m != 0
			data, mask = append(data, v), append(mask, m)
		}
	}
	if !masked {
		mask = nil
	}
	return data, mask, nil
}

// hexDigit is the value of one digit, and 0xf as its mask for an X.
func hexDigit(c byte, wildcards bool) (v, mask byte, ok bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', 0, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, 0, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, 0, true
	case wildcards && (c == 'x' || c == 'X'):
		return 0, 0xf, true
	}
	return 0, 0, false
}

// checkDNSName rejects a name a query cannot carry: an empty label (but
// the root, "."), a label over 63 bytes, a name over 253, or a byte that is
// not printable ASCII.
func checkDNSName(name string) error {
	if name == "." {
		return nil
	}
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return fmt.Errorf("%q is empty", name)
	}
	if len(n) > 253 {
		return fmt.Errorf("%q is longer than 253 bytes", name)
	}
	for label := range strings.SplitSeq(n, ".") {
		switch {
		case label == "":
			return fmt.Errorf("%q has an empty label", name)
		case len(label) > 63:
			return fmt.Errorf("%q has a label longer than 63 bytes", name)
		}
	}
	for _, r := range n {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("%q holds %q, which a name cannot", name, r)
		}
	}
	return nil
}
