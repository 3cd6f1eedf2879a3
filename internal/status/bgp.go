package status

import "github.com/prometheus/client_golang/prometheus"

// BGP is what a director announced by BGP reports: its sessions and its
// routes. It is absent from the document without a bgp block.
type BGP struct {
	ASN      uint32       `json:"asn"`
	RouterID string       `json:"router_id"`
	Sessions []BGPSession `json:"sessions"`
	Routes   []BGPRoute   `json:"routes"`
	// Draining is true once a stop has begun: the routes carry the
	// GRACEFUL_SHUTDOWN community, then are withdrawn.
	Draining bool `json:"draining"`
}

// BGPSession is one neighbour's session.
type BGPSession struct {
	Neighbor string `json:"neighbor"`
	Address  string `json:"address"`
	State    string `json:"state"` // RFC 4271 FSM state, "ESTABLISHED" when up
	Up       bool   `json:"up"`
	Since    string `json:"since,omitempty"` // RFC 3339; when the state was entered
}

// BGPRoute is one announced VIP's host route.
type BGPRoute struct {
	Prefix    string `json:"prefix"`
	Announced bool   `json:"announced"`
	// Reason says why a route is withdrawn ("no healthy real server in web").
	Reason string `json:"reason,omitempty"`
}

// bgpCollector adds the BGP families to a scrape.
type bgpCollector struct {
	up, announced *prometheus.Desc
}

func newBGPCollector() bgpCollector {
	return bgpCollector{
		up: prometheus.NewDesc("lvsd_bgp_session_up",
			"1 if the BGP session with the neighbour is established, else 0.", []string{"neighbor"}, nil),
		announced: prometheus.NewDesc("lvsd_bgp_announced",
			"1 if the VIP's host route is announced to the BGP neighbours, else 0.", []string{"vip"}, nil),
	}
}

func (c bgpCollector) describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.announced
}

func (c bgpCollector) collect(doc *Document, gauge func(*prometheus.Desc, float64, ...string)) {
	if doc.BGP == nil {
		return
	}
	for _, s := range doc.BGP.Sessions {
		gauge(c.up, boolValue(s.Up), s.Neighbor)
	}
	for _, r := range doc.BGP.Routes {
		gauge(c.announced, boolValue(r.Announced), r.Prefix)
	}
}
