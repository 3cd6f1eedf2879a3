# want: 6:15: hold_time must be 0s or whole seconds from 3s
# want: 7:18: community must be ASN:VALUE
cluster = "c"
bgp {
  asn = 65010
  hold_time = "2s"
  communities = ["65536:1"]
  neighbor "tor1" {
    address = "192.0.2.1"
    asn     = 65000
  }
}
