//go:build linux

package ipvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// fakeKernel plays the kernel's side of IPVS generic netlink on an nltest
// socket. It keeps a table, answers like net/netfilter/ipvs/ip_vs_ctl.c
// (one acknowledgement datagram per request, dumps split over several
// datagrams, 16-byte addresses, both 32- and 64-bit statistics) and records
// every request. It parses requests with its own code, not the package's
// decoders, so that encoding mistakes are not mirrored.
type fakeKernel struct {
	family   uint16
	absent   bool // no IPVS family: the lookup fails with ENOENT
	services []*fakeService
	timeouts [3]uint32
	daemons  []SyncDaemon
	index    map[fakeKey]*fakeService // lazily built; nil after a change
	// dumpChunk is how many messages a dump datagram holds.
	dumpChunk int
	// silentStop stops a daemon without any answer, as the kernel does
	// when kthread_stop returns -EINTR (its thread had not run yet).
	silentStop bool

	sends [][]netlink.Message // one entry per sendmsg
	queue [][]netlink.Message // reply datagrams, one per Receive
}

type fakeService struct {
	af       uint16
	proto    uint16
	addr     [16]byte
	port     uint16
	fwmark   uint32
	sched    string
	flags    uint32
	timeout  uint32
	netmask  [4]byte
	dests    []*fakeDest
	statBase uint64
}

type fakeKey struct {
	af, proto uint16
	addr      [16]byte
	port      uint16
	fwmark    uint32
}

func (s *fakeService) key() fakeKey {
	if s.fwmark != 0 {
		return fakeKey{af: s.af, fwmark: s.fwmark}
	}
	return fakeKey{af: s.af, proto: s.proto, addr: s.addr, port: s.port}
}

type fakeDest struct {
	af                 uint16
	addr               [16]byte
	port               uint16
	fwd, weight, u, l  uint32
	active, inact, per uint32
	// Tunnel encapsulation; missing attributes are zero, as in
	// ip_vs_genl_parse_dest.
	tunType  uint8
	tunPort  uint16
	tunFlags uint16
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{family: 0x23, dumpChunk: 3, timeouts: [3]uint32{900, 120, 300}}
}

// client dials a Client on the fake.
func (k *fakeKernel) client(t testing.TB) *Client {
	t.Helper()
	c, err := newClient(nltest.Dial(k.serve))
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// requests returns every request sent after the family lookup.
func (k *fakeKernel) requests() []netlink.Message {
	var out []netlink.Message
	for _, s := range k.sends {
		for _, m := range s {
			if m.Header.Type == netlink.HeaderType(k.family) {
				out = append(out, m)
			}
		}
	}
	return out
}

// ipvsSends returns the sendmsg calls that carried IPVS requests.
func (k *fakeKernel) ipvsSends() [][]netlink.Message {
	var out [][]netlink.Message
	for _, s := range k.sends {
		if len(s) > 0 && s[0].Header.Type == netlink.HeaderType(k.family) {
			out = append(out, s)
		}
	}
	return out
}

func (k *fakeKernel) serve(reqs []netlink.Message) ([]netlink.Message, error) {
	if len(reqs) == 0 {
		if len(k.queue) == 0 {
			return nil, errors.New("fake kernel: receive with nothing to answer")
		}
		d := k.queue[0]
		k.queue = k.queue[1:]
		return d, nil
	}
	k.sends = append(k.sends, slices.Clone(reqs))
	for _, r := range reqs {
		k.handle(r)
	}
	return nil, nil
}

func (k *fakeKernel) reply(req netlink.Message, flags netlink.HeaderFlags, cmd uint8, attrs []byte) netlink.Message {
	b, err := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: genlVersion}, Data: attrs}.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return netlink.Message{
		Header: netlink.Header{Type: req.Header.Type, Flags: flags, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   b,
	}
}

// ack queues the answer netlink_ack gives: errno and the request header,
// plus the request's payload when it failed (no NETLINK_CAP_ACK here).
func (k *fakeKernel) ack(req netlink.Message, errno unix.Errno) {
	data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	h := req.Header
	h.Length = uint32(16 + len(req.Data))
	data = binary.NativeEndian.AppendUint32(data, h.Length)
	data = binary.NativeEndian.AppendUint16(data, uint16(h.Type))
	data = binary.NativeEndian.AppendUint16(data, uint16(h.Flags))
	data = binary.NativeEndian.AppendUint32(data, h.Sequence)
	data = binary.NativeEndian.AppendUint32(data, h.PID)
	if errno != 0 {
		data = append(data, req.Data...)
	}
	k.queue = append(k.queue, []netlink.Message{{
		Header: netlink.Header{Type: netlink.Error, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   data,
	}})
}

// dump queues msgs as a multi-part answer over several datagrams.
func (k *fakeKernel) dump(req netlink.Message, msgs []netlink.Message) {
	done := netlink.Message{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   make([]byte, 4),
	}
	msgs = append(msgs, done)
	for len(msgs) > 0 {
		n := min(k.dumpChunk, len(msgs))
		k.queue = append(k.queue, msgs[:n])
		msgs = msgs[n:]
	}
}

func attrMap(b []byte) (map[uint16][]byte, error) {
	attrs, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		return nil, err
	}
	m := make(map[uint16][]byte, len(attrs))
	for _, a := range attrs {
		m[a.Type&^netlink.Nested] = a.Data
	}
	return m, nil
}

func (k *fakeKernel) handle(req netlink.Message) {
	if req.Header.Type == unix.GENL_ID_CTRL {
		k.handleFamily(req)
		return
	}
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(req.Data); err != nil || req.Header.Type != netlink.HeaderType(k.family) {
		k.ack(req, unix.EINVAL)
		return
	}
	top, err := attrMap(gm.Data)
	if err != nil {
		k.ack(req, unix.EINVAL)
		return
	}
	errno := k.command(req, gm.Header.Command, top)
	if errno == unix.EINTR {
		return // netlink_rcv_skb answers nothing for -EINTR
	}
	if errno != 0 || req.Header.Flags&netlink.Acknowledge != 0 {
		k.ack(req, errno)
	}
}

func (k *fakeKernel) handleFamily(req netlink.Message) {
	var gm genetlink.Message
	_ = gm.UnmarshalBinary(req.Data)
	attrs, _ := attrMap(gm.Data)
	name := string(attrs[unix.CTRL_ATTR_FAMILY_NAME])
	if k.absent || name != genlName+"\x00" {
		k.ack(req, unix.ENOENT)
		return
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(unix.CTRL_ATTR_FAMILY_ID, k.family)
	ae.String(unix.CTRL_ATTR_FAMILY_NAME, genlName)
	ae.Uint32(unix.CTRL_ATTR_VERSION, genlVersion)
	b, _ := ae.Encode()
	k.queue = append(k.queue, []netlink.Message{k.reply(req, 0, unix.CTRL_CMD_NEWFAMILY, b)})
}

func (k *fakeKernel) command(req netlink.Message, cmd uint8, top map[uint16][]byte) unix.Errno {
	switch cmd {
	case cmdGetInfo:
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(infoVersion, 0x010201)
		ae.Uint32(infoConnTabSize, 4096)
		b, _ := ae.Encode()
		k.queue = append(k.queue, []netlink.Message{k.reply(req, 0, cmdSetInfo, b)})
		return 0
	case cmdGetConfig:
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(attrTimeoutTCP, k.timeouts[0])
		ae.Uint32(attrTimeoutTCPFin, k.timeouts[1])
		ae.Uint32(attrTimeoutUDP, k.timeouts[2])
		b, _ := ae.Encode()
		k.queue = append(k.queue, []netlink.Message{k.reply(req, 0, cmdSetConfig, b)})
		return 0
	case cmdSetConfig:
		for i, typ := range []uint16{attrTimeoutTCP, attrTimeoutTCPFin, attrTimeoutUDP} {
			if v, ok := top[typ]; ok {
				k.timeouts[i] = binary.NativeEndian.Uint32(v)
			}
		}
		return 0
	case cmdFlush:
		k.services, k.index = nil, nil
		return 0
	case cmdGetService:
		var msgs []netlink.Message
		// Newest first, so that the client's sorting is exercised.
		for i := len(k.services) - 1; i >= 0; i-- {
			msgs = append(msgs, k.reply(req, netlink.Multi, cmdNewService, k.encodeService(k.services[i])))
		}
		k.dump(req, msgs)
		return 0
	case cmdGetDest:
		svcAttrs, err := attrMap(top[attrService])
		if err != nil {
			k.dump(req, nil)
			return 0
		}
		// ip_vs_genl_dump_dests: a service that is not there has no
		// destinations, not an error.
		_, s, errno := k.findService(svcAttrs)
		var msgs []netlink.Message
		if errno == 0 && s != nil {
			for i := len(s.dests) - 1; i >= 0; i-- {
				msgs = append(msgs, k.reply(req, netlink.Multi, cmdNewDest, k.encodeDest(s.dests[i])))
			}
		}
		k.dump(req, msgs)
		return 0
	case cmdNewDaemon, cmdDelDaemon:
		da, err := attrMap(top[attrDaemon])
		if err != nil || da[daemonState] == nil {
			return unix.EINVAL
		}
		state := SyncState(binary.NativeEndian.Uint32(da[daemonState]))
		i := slices.IndexFunc(k.daemons, func(d SyncDaemon) bool { return d.State == state })
		if cmd == cmdDelDaemon {
			if i < 0 {
				return unix.ESRCH
			}
			k.daemons = slices.Delete(k.daemons, i, i+1)
			if k.silentStop {
				return unix.EINTR
			}
			return 0
		}
		if da[daemonMcastIfn] == nil || da[daemonSyncID] == nil {
			return unix.EINVAL
		}
		if i >= 0 {
			return unix.EEXIST
		}
		k.daemons = append(k.daemons, SyncDaemon{
			State:     state,
			Interface: string(da[daemonMcastIfn][:len(da[daemonMcastIfn])-1]),
			SyncID:    binary.NativeEndian.Uint32(da[daemonSyncID]),
		})
		return 0
	case cmdGetDaemon:
		var msgs []netlink.Message
		for _, d := range k.daemons {
			ae := netlink.NewAttributeEncoder()
			ae.Nested(attrDaemon, func(nae *netlink.AttributeEncoder) error {
				nae.Uint32(daemonState, uint32(d.State))
				nae.String(daemonMcastIfn, d.Interface)
				nae.Uint32(daemonSyncID, d.SyncID)
				nae.Uint16(daemonSyncMaxLen, 1472)
				nae.Bytes(daemonMcastGroup, []byte{224, 0, 0, 81})
				nae.Uint16(daemonMcastPort, 8848)
				nae.Uint8(daemonMcastTTL, 1)
				return nil
			})
			b, _ := ae.Encode()
			msgs = append(msgs, k.reply(req, netlink.Multi, cmdNewDaemon, b))
		}
		k.dump(req, msgs)
		return 0
	case cmdNewService, cmdSetService, cmdDelService, cmdNewDest, cmdSetDest, cmdDelDest:
		return k.tableCommand(cmd, top)
	}
	return unix.EOPNOTSUPP
}

// findService parses a service's identifying attributes as
// ip_vs_genl_parse_service does.
func (k *fakeKernel) findService(a map[uint16][]byte) (fakeService, *fakeService, unix.Errno) {
	var key fakeService
	if a[svcAF] == nil || (a[svcFWMark] == nil && (a[svcPort] == nil || a[svcProtocol] == nil || a[svcAddr] == nil)) {
		return key, nil, unix.EINVAL
	}
	key.af = binary.NativeEndian.Uint16(a[svcAF])
	if key.af != afInet && key.af != afInet6 {
		return key, nil, unix.EAFNOSUPPORT
	}
	if v := a[svcFWMark]; v != nil {
		key.fwmark = binary.NativeEndian.Uint32(v)
		key.proto = unix.IPPROTO_TCP
	} else {
		key.proto = binary.NativeEndian.Uint16(a[svcProtocol])
		copy(key.addr[:], a[svcAddr]) // nla_memcpy zero-fills
		key.port = binary.BigEndian.Uint16(a[svcPort])
	}
	if k.index == nil {
		k.index = make(map[fakeKey]*fakeService, len(k.services))
		for _, s := range k.services {
			k.index[s.key()] = s
		}
	}
	return key, k.index[key.key()], 0
}

func (k *fakeKernel) tableCommand(cmd uint8, top map[uint16][]byte) unix.Errno {
	sa, err := attrMap(top[attrService])
	if err != nil || top[attrService] == nil {
		return unix.EINVAL
	}
	key, svc, errno := k.findService(sa)
	if errno != 0 {
		return errno
	}
	if cmd == cmdNewService || cmd == cmdSetService {
		if sa[svcSchedName] == nil || sa[svcFlags] == nil || sa[svcTimeout] == nil || sa[svcNetmask] == nil || len(sa[svcFlags]) != 8 {
			return unix.EINVAL
		}
		sched := string(sa[svcSchedName])
		if sched[len(sched)-1] != 0 {
			return unix.EINVAL // NLA_NUL_STRING
		}
		sched = sched[:len(sched)-1]
		if !slices.Contains([]string{"rr", "wrr", "lc", "wlc", "sh", "mh"}, sched) {
			return unix.ENOENT
		}
		flags := binary.NativeEndian.Uint32(sa[svcFlags][:4])
		mask := binary.NativeEndian.Uint32(sa[svcFlags][4:])
		if key.af == afInet6 {
			if plen := binary.NativeEndian.Uint32(sa[svcNetmask]); plen < 1 || plen > 128 {
				return unix.EINVAL
			}
		}
		if cmd == cmdNewService {
			if svc != nil {
				return unix.EEXIST
			}
			svc = &key
			svc.statBase = uint64(len(k.services)+1) << 33
			k.services, k.index = append(k.services, svc), nil
		} else if svc == nil {
			return unix.ESRCH
		}
		svc.sched = sched
		svc.flags = (svc.flags&^mask | flags&mask) | FlagHashed
		svc.timeout = binary.NativeEndian.Uint32(sa[svcTimeout])
		svc.netmask = [4]byte(sa[svcNetmask])
		return 0
	}
	if svc == nil {
		return unix.ESRCH
	}
	if cmd == cmdDelService {
		k.services = slices.DeleteFunc(k.services, func(s *fakeService) bool { return s == svc })
		k.index = nil
		return 0
	}

	da, err := attrMap(top[attrDest])
	if err != nil || top[attrDest] == nil || da[destAddr] == nil || da[destPort] == nil {
		return unix.EINVAL
	}
	var d fakeDest
	copy(d.addr[:], da[destAddr])
	d.port = binary.BigEndian.Uint16(da[destPort])
	d.af = svc.af
	if v := da[destAddrFamily]; v != nil {
		d.af = binary.NativeEndian.Uint16(v)
	}
	i := slices.IndexFunc(svc.dests, func(x *fakeDest) bool { return x.af == d.af && x.addr == d.addr && x.port == d.port })
	if cmd == cmdDelDest {
		if i < 0 {
			return unix.ENOENT
		}
		svc.dests = slices.Delete(svc.dests, i, i+1)
		return 0
	}
	for _, typ := range []uint16{destFwdMethod, destWeight, destUThresh, destLThresh} {
		if len(da[typ]) != 4 {
			return unix.EINVAL
		}
	}
	if d.af != svc.af && binary.NativeEndian.Uint32(da[destFwdMethod])&fwdMask != uint32(Tunnel) {
		return unix.EINVAL // mixed families only for tunnels
	}
	d.fwd = binary.NativeEndian.Uint32(da[destFwdMethod]) & fwdMask
	d.weight = binary.NativeEndian.Uint32(da[destWeight])
	d.u = binary.NativeEndian.Uint32(da[destUThresh])
	d.l = binary.NativeEndian.Uint32(da[destLThresh])
	if v := da[destTunType]; len(v) == 1 {
		d.tunType = v[0]
	}
	if v := da[destTunPort]; len(v) == 2 {
		d.tunPort = binary.BigEndian.Uint16(v)
	}
	if v := da[destTunFlags]; len(v) == 2 {
		d.tunFlags = binary.NativeEndian.Uint16(v)
	}
	switch {
	case cmd == cmdNewDest && i >= 0:
		return unix.EEXIST
	case cmd == cmdNewDest:
		d.active, d.inact, d.per = 3, 5, 7
		svc.dests = append(svc.dests, &d)
	case i < 0:
		return unix.ENOENT
	default:
		d.active, d.inact, d.per = svc.dests[i].active, svc.dests[i].inact, svc.dests[i].per
		svc.dests[i] = &d
	}
	return 0
}

// encodeStats writes statistics the way ip_vs_genl_fill_stats (32-bit
// block: u32 except the byte counters) or ip_vs_genl_fill_stats64 do.
func encodeStats(ae *netlink.AttributeEncoder, typ uint16, base uint64, wide bool) {
	ae.Nested(typ, func(nae *netlink.AttributeEncoder) error {
		for a := uint16(statsConns); a <= statsOutBPS; a++ {
			v := base + uint64(a)
			switch {
			case wide:
				nae.Uint64(a, v)
			case a == statsInBytes || a == statsOutBytes:
				nae.Uint64(a, v)
			default:
				nae.Uint32(a, uint32(v))
			}
		}
		return nil
	})
}

func (k *fakeKernel) encodeService(s *fakeService) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrService, func(nae *netlink.AttributeEncoder) error {
		nae.Uint16(svcAF, s.af)
		if s.fwmark != 0 {
			nae.Uint32(svcFWMark, s.fwmark)
		} else {
			nae.Uint16(svcProtocol, s.proto)
			nae.Bytes(svcAddr, s.addr[:])
			nae.Bytes(svcPort, binary.BigEndian.AppendUint16(nil, s.port))
		}
		nae.String(svcSchedName, s.sched)
		flags := binary.NativeEndian.AppendUint32(nil, s.flags)
		nae.Bytes(svcFlags, binary.NativeEndian.AppendUint32(flags, ^uint32(0)))
		nae.Uint32(svcTimeout, s.timeout)
		nae.Bytes(svcNetmask, s.netmask[:])
		encodeStats(nae, svcStats, s.statBase, false)
		encodeStats(nae, svcStats64, s.statBase, true)
		return nil
	})
	b, _ := ae.Encode()
	return b
}

func (k *fakeKernel) encodeDest(d *fakeDest) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrDest, func(nae *netlink.AttributeEncoder) error {
		nae.Bytes(destAddr, d.addr[:])
		nae.Bytes(destPort, binary.BigEndian.AppendUint16(nil, d.port))
		nae.Uint32(destFwdMethod, d.fwd)
		nae.Uint32(destWeight, d.weight)
		nae.Uint32(destUThresh, d.u)
		nae.Uint32(destLThresh, d.l)
		nae.Uint32(destActiveConns, d.active)
		nae.Uint32(destInactConns, d.inact)
		nae.Uint32(destPersistConns, d.per)
		encodeStats(nae, destStats, 1<<32, false)
		nae.Uint16(destAddrFamily, d.af)
		encodeStats(nae, destStats64, 1<<32, true)
		nae.Uint8(destTunType, d.tunType)
		nae.Bytes(destTunPort, binary.BigEndian.AppendUint16(nil, d.tunPort))
		nae.Uint16(destTunFlags, d.tunFlags)
		return nil
	})
	b, _ := ae.Encode()
	return b
}

// load fills the fake's table directly, bypassing the client.
func (k *fakeKernel) load(svcs []Service) {
	for _, s := range svcs {
		fs := &fakeService{sched: s.Scheduler, flags: s.Flags | FlagHashed, timeout: uint32(s.Timeout / time.Second)}
		fs.af = s.Family()
		if s.FWMark != 0 {
			fs.fwmark = s.FWMark
			fs.proto = unix.IPPROTO_TCP
		} else {
			fs.proto = uint16(s.Protocol)
			copy(fs.addr[:], s.Addr.Addr().AsSlice())
			fs.port = s.Addr.Port()
		}
		if fs.af == afInet6 {
			binary.NativeEndian.PutUint32(fs.netmask[:], 128)
		} else {
			fs.netmask = [4]byte{255, 255, 255, 255}
		}
		for _, d := range s.Destinations {
			fd := &fakeDest{port: d.Addr.Port(), fwd: uint32(d.Forward), weight: uint32(d.Weight), u: d.UpperThreshold, l: d.LowerThreshold}
			fd.af = afInet
			if d.Addr.Addr().Is6() {
				fd.af = afInet6
			}
			copy(fd.addr[:], d.Addr.Addr().AsSlice())
			fs.dests = append(fs.dests, fd)
		}
		k.services = append(k.services, fs)
	}
	k.index = nil
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
