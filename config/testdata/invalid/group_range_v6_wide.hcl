# want: 4:16: an IPv6 range runs over its last 16 bits only
cluster = "c"
virtual_server_group "edge" {
  addresses = ["[2001:db8::1-2001:db8::1:0]:80"]
}
