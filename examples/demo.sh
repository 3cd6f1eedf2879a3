#!/usr/bin/env bash
# Shows lvsd on the example clusters: validation and the rules each
# director would program.
set -euo pipefail
lvsd=${1:-bin/lvsd}
cd "$(dirname "$0")/.."
for f in examples/*/lvsd.hcl; do
	echo "== $f"
	"$lvsd" validate -c "$f"
done
echo
echo "== lvsd plan -c examples/dr-pair/lvsd.hcl --node director-a"
"$lvsd" plan -c examples/dr-pair/lvsd.hcl --node director-a
echo
echo "== lvsd plan -c examples/nat-pair/lvsd.hcl --node director-b"
"$lvsd" plan -c examples/nat-pair/lvsd.hcl --node director-b
