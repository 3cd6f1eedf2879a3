# want: 14:17: no bgp neighbor is
cluster = "c"
bgp {
  asn = 65010
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
}
virtual_server "web" {
  address     = "[2001:db8::10]:80"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  real_server "2001:db8::2" {}
}
