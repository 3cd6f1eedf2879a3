#!/usr/bin/env bash
# A director pair with real servers in the lab, showing failover.
#
# Boots the IPVS lab VM (qemu, Debian's cloud kernel) and runs the
# end-to-end scenario of integration/vmtests/e2e_test.go in demo mode: two
# directors running `lvsd run` share a VIP over VRRP and forward to two DR
# real servers, a client sends a request through the VIP every 20 ms, and
# the master is killed with SIGKILL. Only the story is printed; the full
# test log is kept in a file.
#
#   examples/demo.sh [LVSD_BINARY]     (root; `make demo` builds bin/lvsd)
set -euo pipefail
cd "$(dirname "$0")/.."
lvsd=${1:-}

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: the lab makes network namespaces and boots a VM: run as root" >&2
	exit 1
fi
go=${GO:-go}
if ! command -v "$go" >/dev/null; then
	go=/usr/local/go/bin/go
fi
bash .ci/install-deps.sh

args=(-e2e.demo)
if [[ -n $lvsd ]]; then
	args+=("-e2e.lvsd=$(realpath "$lvsd")")
fi
log=$(mktemp /tmp/lvsd-demo.XXXXXX.log)
echo "lvsd demo: booting the lab VM (full log: $log)"
echo
start=$SECONDS
set +e
"$go" test -count=1 -timeout 5m -run '^TestE2EDirectorPairInVM$' -v ./integration/ -args "${args[@]}" 2>&1 |
	tee "$log" | sed -un 's/^.*DEMO| \{0,1\}//p'
status=${PIPESTATUS[0]}
set -e
echo
if ((status != 0)); then
	echo "demo FAILED (go test exit $status); the failures:" >&2
	grep -E -e '--- FAIL|_test\.go:[0-9]+: .*(want|FAIL)' "$log" | head -20 >&2 || true
	echo "full log: $log" >&2
	exit "$status"
fi
echo "demo done in $((SECONDS - start)) s (full log: $log)"
