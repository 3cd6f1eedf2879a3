#!/usr/bin/env bash
# Builds lvsd's Debian package from a staged tree with dpkg-deb.
#
#   packaging/deb/build.sh BINARY VERSION OUTDIR
#
# BINARY is a static lvsd (make build), VERSION the Debian version
# (UPSTREAM-REVISION: the package is not native, so its changelog is
# changelog.Debian.gz); the
# package is written to OUTDIR/lvsd_VERSION_ARCH.deb and its path printed.
# Run from anywhere; it reads the repository it is in. Needs dpkg-deb, gzip
# and go (to list the modules linked into lvsd for the copyright file).
set -euo pipefail

if (($# != 3)); then
	echo "usage: $0 BINARY VERSION OUTDIR" >&2
	exit 2
fi
bin=$(realpath "$1")
version=$2
out=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

arch=$(dpkg --print-architecture)
# The maintainer named in control and the changelog: $DEB_MAINTAINER, else
# the builder's git identity.
maintainer=${DEB_MAINTAINER:-"$(git config user.name 2>/dev/null || echo lvsd) <$(git config user.email 2>/dev/null || echo root@localhost)>"}
# Timestamps of the last commit, so that one commit builds one package.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
umask 022

install -D -m 0755 "$bin" "$stage/usr/sbin/lvsd"

# The example unit, with the package's paths.
install -d "$stage/lib/systemd/system"
sed -e 's|/usr/local/bin/lvsd|/usr/sbin/lvsd|g' \
	-e 's|^Documentation=.*|Documentation=man:lvsd(8) man:lvsd.hcl(5)|' \
	-e 's|modules-load-ipvs.conf (beside this file) copied to /etc/modules-load.d/|/usr/lib/modules-load.d/lvsd.conf|' \
	examples/systemd/lvsd.service >"$stage/lib/systemd/system/lvsd.service"
if grep -q /usr/local "$stage/lib/systemd/system/lvsd.service"; then
	echo "$0: the unit still names /usr/local" >&2
	exit 1
fi

install -D -m 0644 "$here/lvsd.hcl" "$stage/etc/lvsd/lvsd.hcl"

install -d "$stage/usr/lib/modules-load.d"
{
	echo "# lvsd: load IPVS at boot. lvsd.service may not load kernel modules"
	echo "# (ProtectKernelModules=yes); the schedulers' modules load on demand."
	grep -v '^[[:space:]]*[#;]' examples/systemd/modules-load-ipvs.conf | grep .
} >"$stage/usr/lib/modules-load.d/lvsd.conf"

for page in man/*.[1-9]; do
	section=${page##*.}
	install -d "$stage/usr/share/man/man$section"
	gzip -9n <"$page" >"$stage/usr/share/man/man$section/$(basename "$page").gz"
done

install -D -m 0644 "$here/lvsd.bash-completion" "$stage/usr/share/bash-completion/completions/lvsd"
install -D -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/lvsd"

doc="$stage/usr/share/doc/lvsd"
install -d "$doc"
gzip -9n <README.md >"$doc/README.md.gz"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
printf 'lvsd (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
	"$version" "$commit" "$maintainer" "$date" | gzip -9n >"$doc/changelog.Debian.gz"
"$here/copyright.sh" >"$doc/copyright"

# Control area.
install -d "$stage/DEBIAN"
for script in postinst prerm postrm; do
	install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done
echo /etc/lvsd/lvsd.hcl >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort | xargs md5sum) >"$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" -e "s|@SIZE@|$size|" \
	"$here/control" >"$stage/DEBIAN/control"
find "$stage" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
deb="$out/lvsd_${version}_${arch}.deb"
# gzip at level 6: every dpkg reads it, and it takes a second where xz
# takes ten for a package one fifth smaller.
dpkg-deb --root-owner-group -Zgzip -z6 --build "$stage" "$deb" >/dev/null
echo "$deb"
