package vip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Addrs is what a Ledger needs of the kernel: *Manager is one.
type Addrs interface {
	Add(ifname string, vips []netip.Prefix) error
	Remove(ifname string, vips []netip.Prefix) error
	Missing(ifname string, vips []netip.Prefix) ([]netip.Prefix, error)
}

// Ledger stands between the VRRP instances and the kernel and remembers,
// in a file that outlives the process, which virtual addresses this
// director put on its interfaces. It answers two questions a restart
// raises:
//
//   - A director killed while MASTER (kill -9, a crash, the OOM killer)
//     leaves its VIPs on the interface. When it comes back as BACKUP
//     beside the new master, two hosts answer for one address. Reclaim,
//     called before any instance runs, removes every address the file
//     lists, so a restarted director holds nothing it is not MASTER of.
//   - An address the host already had (a VIP configured equal to the
//     interface's own address, by mistake or on purpose) must survive a
//     stop. An address on the interface at start that the file does not
//     list is the host's: Add leaves it alone and Remove never deletes it.
//
// The file is written before an address is added and after it is
// removed, so a crash between the two leaves an entry for an address that
// may be gone, never an address without an entry. It lives in the run-time
// directory (/run/lvsd), which a reboot empties together with the
// interfaces' addresses.
//
// Ledger implements the instances' address manager (vrrpd.VIPs). Its
// methods are safe for concurrent use.
type Ledger struct {
	k    Addrs
	path string
	log  *slog.Logger

	mu    sync.Mutex
	owned map[entry]bool // added by lvsd, listed in the file
	host  map[entry]bool // the host's own: never added or removed
}

// entry is one address on one interface.
type entry struct {
	Interface string       `json:"interface"`
	Address   netip.Prefix `json:"address"`
}

// OpenLedger returns a Ledger over k that keeps its file at path; "" keeps
// it in memory only. An unreadable or corrupt file is an error: guessing
// would either leave a stale VIP up or delete an address of the host's.
func OpenLedger(k Addrs, path string, log *slog.Logger) (*Ledger, error) {
	if log == nil {
		log = slog.Default()
	}
	l := &Ledger{k: k, path: path, log: log, owned: make(map[entry]bool), host: make(map[entry]bool)}
	if path == "" {
		return l, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return l, nil
	case err != nil:
		return nil, fmt.Errorf("reading the record of added virtual addresses: %w", err)
	}
	var list []entry
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("reading the record of added virtual addresses %s: %w (remove it after checking the interfaces by hand)", path, err)
	}
	for _, e := range list {
		e.Address = normalize(e.Address)
		l.owned[e] = true
	}
	return l, nil
}

// Reclaim is the start-up: it removes every address an earlier run added
// and did not remove, then records which of want (interface → VIPs) are on
// their interface now, not having been added by lvsd: those are the
// host's. It returns the addresses removed and those found to be the
// host's. Call it once, before any instance runs.
func (l *Ledger) Reclaim(want map[string][]netip.Prefix) (removed, host []Address, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	left := groupByInterface(l.owned)
	for _, ifname := range sortedKeys(left) {
		stale := left[ifname]
		if err := l.k.Remove(ifname, stale); err != nil {
			return removed, nil, fmt.Errorf("removing the virtual addresses a previous run left on %s: %w", ifname, err)
		}
		for _, p := range stale {
			delete(l.owned, entry{ifname, p})
			removed = append(removed, Address{Interface: ifname, Prefix: p})
		}
		if err := l.saveLocked(); err != nil {
			return removed, nil, err
		}
	}
	host, err = l.adoptLocked(want)
	return removed, host, err
}

// Adopt records which of want are on their interface now without having
// been added by lvsd, as Reclaim does after its clean-up: a reload calls it
// for instances it is about to start. Addresses it already knows are left
// as they are.
func (l *Ledger) Adopt(want map[string][]netip.Prefix) (host []Address, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.adoptLocked(want)
}

func (l *Ledger) adoptLocked(want map[string][]netip.Prefix) ([]Address, error) {
	var host []Address
	for _, ifname := range sortedKeys(want) {
		var unknown []netip.Prefix
		for _, p := range want[ifname] {
			e := entry{ifname, normalize(p)}
			if !l.owned[e] && !l.host[e] {
				unknown = append(unknown, e.Address)
			}
		}
		if len(unknown) == 0 {
			continue
		}
		missing, err := l.k.Missing(ifname, unknown)
		if err != nil {
			return host, fmt.Errorf("listing the addresses of %s: %w", ifname, err)
		}
		for _, p := range unknown {
			if !slices.Contains(missing, p) {
				l.host[entry{ifname, p}] = true
				host = append(host, Address{Interface: ifname, Prefix: p})
			}
		}
	}
	return host, nil
}

// Address is a virtual address on an interface.
type Address struct {
	Interface string
	Prefix    netip.Prefix
}

// Add records the addresses, then adds those that are not the host's.
func (l *Ledger) Add(ifname string, vips []netip.Prefix) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	mine := l.notHostLocked(ifname, vips)
	if len(mine) == 0 {
		return nil
	}
	grew := false
	for _, p := range mine {
		if e := (entry{ifname, p}); !l.owned[e] {
			l.owned[e] = true
			grew = true
		}
	}
	if grew {
		if err := l.saveLocked(); err != nil {
			return err
		}
	}
	return l.k.Add(ifname, mine)
}

// Remove removes the addresses lvsd added, then forgets them; the host's
// own are left on the interface.
func (l *Ledger) Remove(ifname string, vips []netip.Prefix) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	mine := l.notHostLocked(ifname, vips)
	if len(mine) == 0 {
		return nil
	}
	if err := l.k.Remove(ifname, mine); err != nil {
		return err
	}
	shrank := false
	for _, p := range mine {
		if e := (entry{ifname, p}); l.owned[e] {
			delete(l.owned, e)
			shrank = true
		}
	}
	if shrank {
		return l.saveLocked()
	}
	return nil
}

// Missing returns the addresses lvsd holds or should hold that are not on
// the interface; the host's own are the host's business.
func (l *Ledger) Missing(ifname string, vips []netip.Prefix) ([]netip.Prefix, error) {
	l.mu.Lock()
	mine := l.notHostLocked(ifname, vips)
	l.mu.Unlock()
	if len(mine) == 0 {
		return nil, nil
	}
	return l.k.Missing(ifname, mine)
}

func (l *Ledger) notHostLocked(ifname string, vips []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(vips))
	for _, p := range vips {
		p = normalize(p)
		if !l.host[entry{ifname, p}] {
			out = append(out, p)
		}
	}
	return out
}

// saveLocked writes the owned addresses to the file: a new file renamed
// over the old, so a crash leaves one or the other whole.
func (l *Ledger) saveLocked() error {
	if l.path == "" {
		return nil
	}
	list := make([]entry, 0, len(l.owned))
	for e := range l.owned {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b entry) int {
		if a.Interface != b.Interface {
			if a.Interface < b.Interface {
				return -1
			}
			return 1
		}
		return a.Address.Addr().Compare(b.Address.Addr())
	})
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(l.path), filepath.Base(l.path)+".*")
	if err != nil {
		return fmt.Errorf("recording the added virtual addresses: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("recording the added virtual addresses: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("recording the added virtual addresses: %w", err)
	}
	return nil
}

// normalize unmaps an IPv4-mapped address and drops a zone, keeping the
// host bits: a VIP is an address with a prefix length, not a network.
func normalize(p netip.Prefix) netip.Prefix {
	ip := p.Addr()
	bits := p.Bits()
	if ip.Is4In6() {
		ip = ip.Unmap()
		bits -= 96
		if bits < 0 {
			bits = 0
		}
	}
	return netip.PrefixFrom(ip.WithZone(""), bits)
}

func groupByInterface(set map[entry]bool) map[string][]netip.Prefix {
	out := make(map[string][]netip.Prefix)
	for e := range set {
		out[e.Interface] = append(out[e.Interface], e.Address)
	}
	for _, ps := range out {
		slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
