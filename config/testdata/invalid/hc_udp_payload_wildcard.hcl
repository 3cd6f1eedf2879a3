# want: 6:15: an X digit (any value) is only allowed in a reply
cluster = "c"
virtual_server "dns" {
  address = "10.0.0.1:53"
  health_check "udp" {
    payload = "0X"
  }
}
