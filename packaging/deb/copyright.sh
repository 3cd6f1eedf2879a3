#!/usr/bin/env bash
# Writes the package's copyright file: lvsd's own statement, then the Go
# standard library and every Go module linked into /usr/sbin/lvsd (a static
# program), each with its license: the full text, or a pointer to
# /usr/share/common-licenses for Apache-2.0 and MPL-2.0, plus any NOTICE.
set -euo pipefail
cd "$(dirname "$0")/../.."

# kind names a license text, or prints nothing for one it does not know.
kind() {
	if grep -q 'Apache License' "$1" && grep -q 'Version 2.0' "$1"; then
		echo Apache-2.0
	elif grep -q 'Mozilla Public License' "$1" && grep -q 'Version 2.0' "$1"; then
		echo MPL-2.0
	elif grep -q 'Permission is hereby granted, free of charge' "$1"; then
		echo MIT
	elif grep -q 'Redistribution and use in source and binary forms' "$1"; then
		if grep -qi 'neither the name' "$1"; then echo BSD-3-Clause; else echo BSD-2-Clause; fi
	elif grep -q 'Permission to use, copy, modify, and/or distribute' "$1"; then
		echo ISC
	fi
}

cat <<'HEAD'
lvsd
====

Copyright: the lvsd authors.
License: the lvsd sources state no license; all rights are reserved by
their authors.

/usr/sbin/lvsd is a static Go program: it contains the Go standard
library and the Go modules listed below, each under its own license.
HEAD

modules=$(go list -deps -f '{{with .Module}}{{.Path}}|{{.Version}}|{{.Dir}}{{end}}' ./cmd/lvsd | LC_ALL=C sort -u | grep -v '^github.com/lvsd/lvsd|' || true)
{
	echo "The Go standard library|$(go env GOVERSION)|$(go env GOROOT)"
	echo "$modules"
} | while IFS='|' read -r name version dir; do
	[ -n "$name" ] || continue
	echo
	echo "$name $version"
	echo "$name $version" | tr '[:print:]' '-'
	echo
	license=$(find "$dir" -maxdepth 1 -type f \( -iname 'LICEN[CS]E*' -o -iname 'COPYING*' \) | LC_ALL=C sort | head -n 1)
	if [ -z "$license" ]; then
		echo "$0: no license file in $dir" >&2
		exit 1
	fi
	k=$(kind "$license")
	case $k in
	Apache-2.0 | MPL-2.0)
		echo "License: $k, whose text is in /usr/share/common-licenses/$k."
		;;
	*)
		echo "License: ${k:-as follows}."
		echo
		sed -e 's/^/    /' -e 's/[[:space:]]*$//' "$license"
		;;
	esac
	notice=$(find "$dir" -maxdepth 1 -type f -iname 'NOTICE*' | head -n 1)
	if [ -n "$notice" ]; then
		echo
		echo "NOTICE:"
		echo
		sed -e 's/^/    /' -e 's/[[:space:]]*$//' "$notice"
	fi
done
