# want: 3:1: bgp needs at least one neighbor block
cluster = "c"
bgp {
  asn = 65010
}
