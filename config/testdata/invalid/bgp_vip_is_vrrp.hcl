# want: 16:17: is also a virtual IP of vrrp_instance "VI_1"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["203.0.113.10/32"]
}
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
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  real_server "198.51.100.2" {}
}
