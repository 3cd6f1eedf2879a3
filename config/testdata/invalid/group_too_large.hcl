# want: 4:16: has more than 4096 addresses
cluster = "c"
virtual_server_group "edge" {
  addresses = ["[2001:db8::0-ffff]:80"]
}
