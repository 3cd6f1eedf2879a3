package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSParams describe a DNS check.
type DNSParams struct {
	Target netip.AddrPort
	// Type is the query type as a zone file names it: "A", "SOA", ...
	Type string
	// Name is the name asked about; "." is the root.
	Name string
	// Expect, if not empty, lists values the answer must hold, each as the
	// data of a record of the query's type in zone-file form ("192.0.2.1",
	// "ns1.example.com.", "10 mx.example.com."). Case and a final dot on a
	// name do not matter.
	Expect []string
	// Timeout bounds the check; 0 leaves only the caller's context.
	Timeout time.Duration
	// Source, if valid, is the address the query is sent from
	// (keepalived's bindto).
	Source netip.Addr
}

type dnsChecker struct {
	p      DNSParams
	qtype  uint16 // 0: p.Type is unknown
	name   string
	dialer net.Dialer
}

// NewDNS returns a Checker that sends one recursive query over UDP to the
// target, as keepalived's DNS_CHECK does: the check passes on a response
// with the query's ID and rcode NOERROR (an empty answer included) and,
// when Expect lists values, an answer holding every one of them. A reply
// that is not a DNS response, or one with another rcode, fails; replies
// with another ID are ignored, as late answers to an earlier query may be.
func NewDNS(p DNSParams) Checker {
	return &dnsChecker{
		p:      p,
		qtype:  dns.StringToType[strings.ToUpper(p.Type)],
		name:   dns.Fqdn(p.Name),
		dialer: net.Dialer{Control: recvErrControl, LocalAddr: udpLocalAddr(p.Source)},
	}
}

// String describes the check completely, so it can serve in a Job key.
func (c *dnsChecker) String() string {
	return fmt.Sprintf("dns %s%s %s %s expect=%q timeout=%v", c.p.Target, fromOf(c.p.Source), c.p.Type, c.name, c.p.Expect, c.p.Timeout)
}

func (c *dnsChecker) Check(ctx context.Context) Result {
	start := time.Now()
	if c.qtype == 0 {
		return fail(start, fmt.Sprintf("unknown query type %q", c.p.Type))
	}
	ctx, cancel, budget := withTimeout(ctx, c.p.Timeout)
	defer cancel()
	conn, err := c.dialer.DialContext(ctx, "udp", c.p.Target.String())
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}
	defer conn.Close()
	stop, err := bindDeadline(ctx, conn)
	defer stop()
	if err != nil {
		return fail(start, describeError(ctx, budget, err))
	}

	q := new(dns.Msg)
	q.SetQuestion(c.name, c.qtype)
	// The library sets its own deadlines from the client's timeout and
	// ctx's deadline, the earlier winning; ctx's always binds here.
	client := dns.Client{Net: "udp", Timeout: max(budget, time.Second)}
	r, _, err := client.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: conn})
	if err != nil {
		err = readErr(ctx, err)
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
			return fail(start, fmt.Sprintf("no answer in %v", budget))
		case isNetError(err):
			return fail(start, describeUDPError(ctx, budget, err))
		}
		return fail(start, "malformed reply: "+err.Error())
	}
	ok, msg := c.judge(r)
	return Result{OK: ok, Message: msg, At: start, Duration: time.Since(start)}
}

// isNetError tells an error of the socket from one of the library's
// decoding.
func isNetError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// judge decides on a response to the query.
func (c *dnsChecker) judge(r *dns.Msg) (ok bool, msg string) {
	if !r.Response {
		return false, "reply is a query, not a response"
	}
	if r.Rcode != dns.RcodeSuccess {
		return false, "rcode " + dns.RcodeToString[r.Rcode]
	}
	var got []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == c.qtype {
			got = append(got, rdata(rr))
		}
	}
	summary := fmt.Sprintf("NOERROR, %d %s", len(got), plural(len(got), "answer"))
	for _, want := range c.p.Expect {
		if !slices.ContainsFunc(got, func(g string) bool { return sameRdata(g, want) }) {
			msg := fmt.Sprintf("%s, none is %q", summary, want)
			if r.Truncated {
				msg += " (the reply was truncated)"
			}
			return false, msg
		}
	}
	return true, summary
}

// rdata is a record's data in zone-file form: its text without the header.
func rdata(rr dns.RR) string {
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String()))
}

// sameRdata compares a record's data with an expected value, ignoring case
// and the final dot of names.
func sameRdata(got, want string) bool {
	norm := func(s string) string {
		fields := strings.Fields(s)
		for i, f := range fields {
			fields[i] = strings.TrimSuffix(f, ".")
		}
		return strings.Join(fields, " ")
	}
	return strings.EqualFold(norm(got), norm(want))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
