package daemon

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/lvsd/lvsd/config"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/internal/plan"
)

// owner is one real server of one virtual server: the unit whose health
// the status document and the IPVS table speak of.
type owner struct {
	service string
	server  netip.AddrPort
}

// checkSet is the health-check side of a configuration: the scheduler's
// jobs and who owns each. Jobs with the same key (the same check of the same
// target on the same schedule, in two virtual servers) run once and their
// result is fanned out to every owner.
type checkSet struct {
	jobs   []healthcheck.Job
	owners map[string][]owner // job key → owners, in config order
	keyOf  map[owner]string   // checked real server → job key
}

// buildChecks turns every health_check of cfg into a scheduler job.
// Unchecked real servers have no job: they are always healthy.
func buildChecks(cfg *config.Config) checkSet {
	cs := checkSet{owners: make(map[string][]owner), keyOf: make(map[owner]string)}
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.Check == nil {
				continue
			}
			c := rs.Check
			checker := newChecker(c, rs.Address)
			key := healthcheck.KeyOf(checker, c.Interval, c.Timeout, c.Rise, c.Fall)
			if c.Retry > 0 {
				key += fmt.Sprintf(" retry=%d delay=%v", c.Retry, c.RetryDelay)
			}
			o := owner{service: vs.Name, server: rs.Address}
			if _, seen := cs.owners[key]; !seen {
				cs.jobs = append(cs.jobs, healthcheck.Job{
					Key: key, Checker: checker,
					Interval: c.Interval, Timeout: c.Timeout,
					Rise: c.Rise, Fall: c.Fall,
					Retry: c.Retry, RetryDelay: c.RetryDelay,
				})
			}
			cs.owners[key] = append(cs.owners[key], o)
			cs.keyOf[o] = key
		}
	}
	return cs
}

// checkTarget is the address a check probes: the real server, or the
// check's connect_ip, on the check's own port when it names one.
func checkTarget(c *config.HealthCheck, server netip.AddrPort) netip.AddrPort {
	addr, port := server.Addr(), server.Port()
	if c.ConnectIP.IsValid() {
		addr = c.ConnectIP
	}
	if c.Port != 0 {
		port = c.Port
	}
	return netip.AddrPortFrom(addr, port)
}

func newChecker(c *config.HealthCheck, server netip.AddrPort) healthcheck.Checker {
	target := checkTarget(c, server)
	switch c.Type {
	case config.CheckHTTP, config.CheckHTTPS:
		urls := make([]healthcheck.URL, len(c.URLs))
		for i, u := range c.URLs {
			urls[i] = healthcheck.URL{Path: u.Path, ExpectStatus: u.ExpectStatus, Digest: u.Digest, BodyContains: u.BodyContains}
		}
		return healthcheck.NewHTTP(healthcheck.HTTPParams{
			Target:        target,
			Source:        c.BindTo,
			URLs:          urls,
			HTTPS:         c.Type == config.CheckHTTPS,
			Path:          c.Path,
			Host:          c.Host,
			ExpectStatus:  c.ExpectStatus,
			BodyContains:  c.BodyContains,
			TLSSkipVerify: c.TLSSkipVerify,
			Timeout:       c.Timeout,
		})
	case config.CheckExec:
		return healthcheck.NewExec(healthcheck.ExecParams{Argv: c.Command, Target: target, Timeout: c.Timeout, DynamicWeight: c.DynamicWeight})
	case config.CheckUDP, config.CheckDNS, config.CheckPing, config.CheckSMTP:
		return newTypeChecker(c, target)
	default:
		return healthcheck.NewTCP(target, c.BindTo, c.Timeout)
	}
}

// jobStates looks up a health-check job's state by its key: the
// scheduler's, which keeps the one copy of every job's health; a zero
// Status for a job it does not know.
type jobStates func(key string) healthcheck.Status

// statesOf is a jobStates over a copy of the states, for the status
// document.
func statesOf(m map[string]healthcheck.Status) jobStates {
	return func(key string) healthcheck.Status { return m[key] }
}

// healthOf answers plan.Health from the job states: a checked server is
// healthy only once its check has risen (it starts unhealthy until
// it passes rise times); a server without a check never asks.
func healthOf(cs checkSet, states jobStates) func(string, netip.AddrPort) bool {
	return func(service string, server netip.AddrPort) bool {
		key, ok := cs.keyOf[owner{service: service, server: server}]
		if !ok {
			return true
		}
		return states(key).Health.Healthy
	}
}

// weightsOf answers plan.Weights from the job states: the weight the last
// passing check of a healthy server asked for, if any.
func weightsOf(cs checkSet, states jobStates) plan.Weights {
	return func(service string, server netip.AddrPort) (int, bool) {
		key, ok := cs.keyOf[owner{service: service, server: server}]
		if !ok {
			return 0, false
		}
		h := states(key).Health
		return h.Weight, h.Healthy && h.Weighted
	}
}

// checkDuration converts a check's duration for the status document.
func checkDuration(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// healthCommand is a notify_up/notify_down or quorum_up/quorum_down
// command to run, with the log keys that name its owner.
type healthCommand struct {
	argv []string
	log  []any
}

// serverCommandsLocked returns the notify_up or notify_down commands of
// the owners of a check whose health changed; the caller holds d.mu.
func (d *Daemon) serverCommandsLocked(owners []owner, healthy bool) []healthCommand {
	var out []healthCommand
	for _, o := range owners {
		rs := d.realServerLocked(o)
		if rs == nil {
			continue
		}
		argv := rs.NotifyDown
		if healthy {
			argv = rs.NotifyUp
		}
		if len(argv) > 0 {
			out = append(out, healthCommand{argv: argv, log: []any{"service", o.service, "server", o.server.String()}})
		}
	}
	return out
}

func (d *Daemon) realServerLocked(o owner) *config.RealServer {
	for i := range d.cfg.VirtualServers {
		vs := &d.cfg.VirtualServers[i]
		if vs.Name != o.service {
			continue
		}
		for j := range vs.RealServers {
			if vs.RealServers[j].Address == o.server {
				return &vs.RealServers[j]
			}
		}
	}
	return nil
}

// quorumCommandsLocked records whether each service has its quorum and
// returns the quorum_up and quorum_down commands of those where that
// changed. A service seen for the first time (at start, or new in a
// reload) runs nothing: its checked servers start unhealthy, so its first
// rise to quorum is a change. The caller holds d.mu.
func (d *Daemon) quorumCommandsLocked() []healthCommand {
	if d.quorum == nil {
		d.quorum = make(map[string]bool)
	}
	health := healthOf(d.checks, d.jobState)
	seen := make(map[string]bool, len(d.cfg.VirtualServers))
	var out []healthCommand
	for i := range d.cfg.VirtualServers {
		vs := &d.cfg.VirtualServers[i]
		seen[vs.Name] = true
		st := plan.State(vs, health)
		was, known := d.quorum[vs.Name]
		d.quorum[vs.Name] = st.QuorumMet
		if !known || was == st.QuorumMet {
			continue
		}
		argv := vs.QuorumDown
		if st.QuorumMet {
			argv = vs.QuorumUp
		}
		d.log.Info("virtual server quorum change", "service", vs.Name, "quorum_met", st.QuorumMet)
		if len(argv) > 0 {
			out = append(out, healthCommand{argv: argv, log: []any{"service", vs.Name}})
		}
	}
	for name := range d.quorum {
		if !seen[name] {
			delete(d.quorum, name)
		}
	}
	return out
}

// runHealthCommands runs commands of quorum and real-server changes as the
// notify commands run (runNotify).
func (d *Daemon) runHealthCommands(cmds []healthCommand) {
	for _, c := range cmds {
		d.runNotify(c.argv, notifyTimeout, d.log.With(c.log...))
	}
}
