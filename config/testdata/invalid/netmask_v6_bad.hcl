# want: 6:25: persistence_netmask of an IPv6 service must be a prefix length 1..128
cluster = "c"
virtual_server "web" {
  address     = "[2001:db8::1]:80"
  persistence = "300s"
  persistence_netmask = "ffff:ffff::"
}
