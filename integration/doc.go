// Package integration holds lvsd's tests that need root and real kernels:
// network-namespace labs on the host (package lab) and, for everything
// that needs IPVS, a small VM on Debian's cloud kernel (package vm) in
// which the vm-tagged tests of vmtests run.
//
// Run them as root: go test ./integration/... ; see README.md.
package integration
