# want: 6:20: expect_reply must not be empty
cluster = "c"
virtual_server "dns" {
  address = "10.0.0.1:53"
  health_check "udp" {
    expect_reply = "  "
  }
}
