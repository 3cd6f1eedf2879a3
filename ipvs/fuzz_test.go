//go:build linux

package ipvs

import (
	"testing"

	"github.com/mdlayher/netlink"
)

// FuzzDecode feeds attribute blocks to the dump decoders: whatever the
// kernel (or a hostile peer on a shared socket) sends, they return an
// error or a value, never panic. Seeds are the fake kernel's dump entries,
// which follow ip_vs_ctl.c's layout.
func FuzzDecode(f *testing.F) {
	k := newFakeKernel()
	k.load(bigTable(1))
	k.load([]Service{{ServiceKey: ServiceKey{FWMark: 3, IPv6: true}, Scheduler: "rr"}})
	for _, s := range k.services {
		f.Add(k.encodeService(s))
		for _, d := range s.dests {
			f.Add(k.encodeDest(d))
		}
	}
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(daemonState, 1)
		nae.String(daemonMcastIfn, "eth1")
		nae.Uint32(daemonSyncID, 7)
		nae.Bytes(daemonMcastGroup6, make([]byte, 16))
		return nil
	})
	b, _ := ae.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := decodeService(b); err == nil {
			// Whatever decodes must encode again.
			if _, err := appendOp(nil, &Op{Kind: DelService, Service: s}); err != nil && validKey(s.ServiceKey) == nil {
				t.Errorf("decoded service %v does not encode: %v", s.ServiceKey, err)
			}
		}
		_, _ = decodeDest(b, afInet)
		_, _ = decodeDest(b, afInet6)
		_, _ = decodeDaemon(b)
		_, _ = decodeTimeouts(b)
		_, _ = decodeInfo(b)
	})
}
