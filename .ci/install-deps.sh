#!/usr/bin/env bash
# Installs what lvsd's integration tests need on a Debian or Ubuntu machine:
# network-namespace labs on the host and a qemu VM on Debian's cloud kernel
# for everything that needs IPVS (see integration/README.md).
#
# Idempotent: it runs "apt-get update" once, and only when a package is
# missing or apt has no package lists (then the VM harness could not
# fetch the kernel with "apt-get download").
set -euo pipefail

packages=(
	iproute2        # ip: namespaces, veth, bridges; the guest's ip too
	busybox-static  # the guest's shell and tools; ping and httpd in labs
	qemu-system-x86 # the VM (without KVM)
	ipvsadm         # an independent view of IPVS inside the guest
	kmod            # depmod and modinfo for the guest's modules
	cpio            # reads the initramfs in the harness's unit test
	xz-utils        # kernels whose modules are .ko.xz
	zstd            # kernels whose modules are .ko.zst
	tcpdump         # the lab observer's captures
	keepalived      # a reference VRRP peer
	bird2           # the BGP router that active-active directors peer with
	libc-bin        # ldd, to find the guest programs' libraries
	dpkg            # dpkg-deb, to unpack the kernel package
	systemd         # systemd-analyze verify of examples/systemd/lvsd.service
	prometheus      # promtool: check metrics on a scrape, test the example alerting rules
	man-db          # man -l renders the manual pages in man/
	groff-base      # groff -ww checks them
)

if [[ $(id -u) -ne 0 ]]; then
	exec sudo -E "$0" "$@"
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]} > 0)) || ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
	apt-get update
fi
if ((${#missing[@]} > 0)); then
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
