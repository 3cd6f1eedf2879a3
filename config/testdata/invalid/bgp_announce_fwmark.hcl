# want: 14:17: an fwmark service has no VIP to announce
cluster = "c"
bgp {
  asn = 65010
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
}
virtual_server "web" {
  fwmark      = 3
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  real_server "198.51.100.2:80" {}
}
