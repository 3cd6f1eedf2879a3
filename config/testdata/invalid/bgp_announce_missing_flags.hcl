# want: 13:17: missing mh-fallback
cluster = "c"
bgp {
  asn = 65010
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
}
virtual_server "web" {
  address     = "203.0.113.10:80"
  scheduler   = "mh"
  sched_flags = ["mh-port"]
  announce    = "bgp"
  real_server "198.51.100.2" {}
}
