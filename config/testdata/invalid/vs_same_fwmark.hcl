# want: 7:12: virtual_server "b" is the same IPVS service as "a"
cluster = "c"
virtual_server "a" {
  fwmark = 5
}
virtual_server "b" {
  fwmark = 5
  protocol = "udp"
}
