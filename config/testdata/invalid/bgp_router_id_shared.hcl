# want: 10:15: would be shared by nodes director-b, director-c
cluster = "c"
node "director-a" {
  router_id = "192.0.2.11"
}
node "director-b" {}
node "director-c" {}
bgp {
  asn = 65010
  router_id = "192.0.2.10"
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
}
