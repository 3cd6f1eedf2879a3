# want: 4:16: a range ends at an address, or at the last byte
cluster = "c"
virtual_server_group "edge" {
  addresses = ["10.0.0.1-300:80"]
}
