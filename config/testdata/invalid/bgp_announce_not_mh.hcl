# want: 12:17: needs scheduler = "mh"
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
  scheduler   = "wlc"
  announce    = "bgp"
  real_server "198.51.100.2" {}
}
