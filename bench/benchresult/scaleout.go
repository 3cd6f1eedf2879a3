package benchresult

import "time"

// ScaleOutMarker starts the line of the scale-out test's result.
const ScaleOutMarker = "SCALEOUT "

// ScaleOut is what the scale-out test (integration/vmtests TestScaleOut)
// measured: three directors announcing one VIP by BGP to BIRD, which
// spreads the client's flows over them by ECMP.
type ScaleOut struct {
	Directors, Servers int
	// Flows is the number of the client's long-lived flows; Probe the
	// number of test flows mapped on every director.
	Flows, Probe int
	// NewConns is each director's count of new connections (its IPVS
	// counter) over Window of the client's steady new-connection loop,
	// one every Every.
	NewConns      map[string]int
	Window, Every time.Duration
	// Agree is how many of the Probe flows every director maps to the
	// same real server, the directors' files listing the real servers in
	// different orders.
	Agree int
	// ServerDeath: one real server stopped, then back.
	ServerDeath ScaleOutServerDeath
	// Stop: a director stopped cleanly (SIGTERM) under the flows, one
	// line per family.
	Stop []ScaleOutLoss
	// Kills: a director killed (SIGKILL) under the flows, without and
	// with sloppy_tcp on the survivors, one line per family.
	Kills []ScaleOutLoss
	// Withdraw is from the last healthy real server's death to the
	// VIP's route gone from the router; Interval the check interval.
	Withdraw, Interval time.Duration
}

// ScaleOutServerDeath is a real server's death and return.
type ScaleOutServerDeath struct {
	// OnServer is how many long-lived flows the server carried; Broken
	// how many flows broke, OtherBroken how many of those were another
	// server's.
	OnServer, Broken, OtherBroken int
	// Kept is how many probe flows of the other servers every director
	// still maps as before, of Others; Agree how many probe flows all
	// directors map alike while the server is down.
	Kept, Others, Agree int
	// Back is how many probe flows map as before once it returned.
	Back int
}

// ScaleOutLoss is a director's loss under the client's flows.
type ScaleOutLoss struct {
	How    string // "SIGTERM", "SIGKILL"
	Family string // "IPv4", "IPv6"
	Sloppy bool   // sloppy_tcp on the surviving directors
	// Carried is how many long-lived flows the lost director carried;
	// Survived how many of all Flows still answered after it.
	Carried, Flows, Survived int
	// RouteGone is from the signal to the router's route without the
	// director.
	RouteGone time.Duration
	// NewFailed counts the new connections that failed from the signal
	// on; LastFailure is the start of the last one, from the signal
	// (0: none).
	NewFailed   int
	LastFailure time.Duration
}
