package convert

import (
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/internal/keepalived"
)

// keepalived's defaults of the UDP, DNS, PING and SMTP checkers
// (check_udp.c, check_dns.h) where they differ from the other checkers'.
const (
	// kaUDPMaxReply is UDP_CHECK's max_reply_length, which keepalived
	// applies when require_reply gives data to compare.
	kaUDPMaxReply = 255
	// kaDNSRetry is DNS_CHECK's default retry; its delay_before_retry
	// defaults to delay_loop.
	kaDNSRetry = 3
)

// checkTypes are the checkers whose keywords typeOption reads, and the
// lvsd check type of each.
var checkTypes = map[string]string{
	"UDP_CHECK":  "udp",
	"DNS_CHECK":  "dns",
	"PING_CHECK": "ping",
	"SMTP_CHECK": "smtp",
}

// typeOpts holds what typeOption learnt until typeDone writes it, after
// the settings every check has.
type typeOpts struct {
	attrs []typeAttr
	// UDP_CHECK
	expectReply bool
	maxReply    bool
}

type typeAttr struct {
	name string
	v    cty.Value
	pos  Pos
}

func (o *typeOpts) set(name string, v cty.Value, pos Pos) {
	o.attrs = append(o.attrs, typeAttr{name, v, pos})
}

// typeOption converts a keyword of a UDP_CHECK, DNS_CHECK or SMTP_CHECK
// block that only its checker has; it reports whether c was one.
func (fc *fileConv) typeOption(typ string, o *typeOpts, c *keepalived.Stmt) bool {
	switch typ + " " + c.Key.Text {
	case "udp payload":
		// keepalived joins the words of the line, then reads them
		// as one hex string.
		if fc.args(c, 1, -1) {
			if s, ok := fc.hexArgs(c, false); ok {
				o.set("payload", cty.StringVal(s), c.Pos())
			}
		}
	case "udp require_reply":
		if len(c.Args) == 0 {
			o.set("require_reply", cty.True, c.Pos())
		} else if s, ok := fc.hexArgs(c, true); ok {
			o.set("expect_reply", cty.StringVal(s), c.Pos())
			o.expectReply = true
		}
	case "udp min_reply_length":
		if fc.args(c, 1, 1) {
			if v, ok := fc.uint(c, 0, 0, 65535); ok {
				o.set("min_reply_length", cty.NumberIntVal(int64(v)), c.Pos())
			}
		}
	case "udp max_reply_length":
		// 0, which would let no reply with data pass in keepalived,
		// means no limit in lvsd.
		if fc.args(c, 1, 1) {
			if v, ok := fc.uint(c, 0, 1, 65535); ok {
				o.set("max_reply_length", cty.NumberIntVal(int64(v)), c.Pos())
				o.maxReply = true
			}
		}
	case "dns type":
		if fc.args(c, 1, 1) {
			t := strings.ToUpper(c.Arg(0))
			if !slices.Contains(config.QueryTypes, t) {
				fc.c.errorf(c.Pos(), "DNS_CHECK type %s: lvsd asks %s", c.Arg(0), strings.Join(config.QueryTypes, ", "))
			} else if t != "SOA" {
				o.set("type", cty.StringVal(t), c.Pos())
			}
		}
	case "dns name":
		if fc.args(c, 1, 1) && c.Arg(0) != "." {
			o.set("name", cty.StringVal(c.Arg(0)), c.Pos())
		}
	case "smtp helo_name":
		if fc.args(c, 1, 1) && c.Arg(0) != config.DefaultHELOName {
			o.set("helo_name", cty.StringVal(c.Arg(0)), c.Pos())
		}
	default:
		return false
	}
	return true
}

// typeDone writes the options typeOption read into hb, and what a
// UDP_CHECK's keywords mean together: keepalived bounds a reply it
// compares to 255 bytes unless told otherwise.
func (fc *fileConv) typeDone(hb *block, o *typeOpts, k *keepalived.Stmt) {
	if o.expectReply && !o.maxReply {
		o.set("max_reply_length", cty.NumberIntVal(kaUDPMaxReply), k.Pos())
	}
	for _, a := range o.attrs {
		hb.set(a.name, a.v, a.pos)
	}
}

// hexArgs joins the words of c's arguments as keepalived does and checks
// that they are hex (with X digits where wildcards are allowed).
func (fc *fileConv) hexArgs(c *keepalived.Stmt, wildcards bool) (string, bool) {
	words := make([]string, len(c.Args))
	for i := range c.Args {
		words[i] = c.Arg(i)
	}
	s := strings.Join(words, " ")
	data, _, err := config.ParseHex(s, wildcards)
	switch {
	case err != nil:
		fc.c.errorf(c.Pos(), "%s: %v", c.Key.Text, err)
		return "", false
	case len(data) == 0:
		fc.c.errorf(c.Pos(), "%s needs hex data", c.Key.Text)
		return "", false
	}
	return s, true
}
