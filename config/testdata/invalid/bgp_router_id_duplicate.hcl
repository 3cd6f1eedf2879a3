# want: 7:15: router_id 192.0.2.11 is also node
cluster = "c"
node "a" {
  router_id = "192.0.2.11"
}
node "b" {
  router_id = "192.0.2.11"
}
bgp {
  asn = 65010
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
}
