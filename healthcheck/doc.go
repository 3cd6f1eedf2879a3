// Package healthcheck decides whether real servers are fit to receive
// traffic. It offers seven kinds of probe (TCP connect, HTTP/HTTPS request,
// external command, UDP datagram, DNS query, ICMP echo, SMTP greeting), the
// rise/fall hysteresis that turns a stream of probe results into a health
// state, and a Scheduler that runs thousands of probes,
// each on its own cadence, without one slow target delaying another.
//
// The package knows nothing of lvsd's configuration: the daemon translates a
// `health_check` block into a Checker's parameters and a Job.
//
// Semantics follow keepalived's TCP_CHECK, HTTP_GET/SSL_GET, MISC_CHECK,
// UDP_CHECK, DNS_CHECK, PING_CHECK and SMTP_CHECK,
// with one rule above all: a target that accepts and never
// answers, resets the connection or answers with garbage is a failed check
// that ends within its timeout. HTTP is spoken as HTTP/1.1 (RFC 9112) with
// "Connection: close" (RFC 9112 §9.6) on a fresh connection every time, so a
// check always measures the server's ability to accept new clients; TLS
// follows RFC 8446 with the server name sent as SNI (RFC 6066 §3).
//
// The Scheduler runs TCP and plain HTTP checks itself, on non-blocking
// sockets watched by one epoll instance, so that a check costs its system
// calls and little else; the other checks each get a goroutine for their
// duration. Responses are read by a parser of the package's own,
// held by a fuzz test to net/http's reading of everything it accepts.
package healthcheck
