# want: 4:31: is IPv6 but the group's first address is IPv4
cluster = "c"
virtual_server_group "edge" {
  addresses = ["10.0.0.1:80", "[2001:db8::1]:80"]
}
