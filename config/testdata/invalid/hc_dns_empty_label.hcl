# want: 6:12: name: "www..example.com" has an empty label
cluster = "c"
virtual_server "dns" {
  address = "10.0.0.1:53"
  health_check "dns" {
    name = "www..example.com"
  }
}
