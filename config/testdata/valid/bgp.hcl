# Three active-active directors announcing two VIPs by BGP.
cluster = "edge"

node "lb1" { router_id = "192.0.2.11" }
node "lb2" { router_id = "192.0.2.12" }
node "lb3" {}

bgp {
  asn = 65010
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
  neighbor "tor1-v6" {
    address = "2001:db8::1"
    asn     = 65000
  }
}

virtual_server "web" {
  address     = "203.0.113.10:80"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  health_check "tcp" {}
  real_server "198.51.100.2" {}
  real_server "198.51.100.3" {}
}

virtual_server "web-tls" {
  address     = "203.0.113.10:443"
  scheduler   = "mh"
  sched_flags = ["mh-fallback", "mh-port"]
  announce    = "bgp"
  real_server "198.51.100.2" {}
}

virtual_server "web6" {
  address     = "[2001:db8:10::10]:80"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  real_server "2001:db8:10::2" {}
}
