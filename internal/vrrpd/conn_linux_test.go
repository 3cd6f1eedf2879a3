package vrrpd

import "github.com/lvsd/lvsd/vrrp"

// The socket transport plugs in as it is.
var _ Transport = (*vrrp.Conn)(nil)
