# want: 6:15: payload: "01 zz": 'z' is not a hex digit
cluster = "c"
virtual_server "dns" {
  address = "10.0.0.1:53"
  health_check "udp" {
    payload = "01 zz"
  }
}
