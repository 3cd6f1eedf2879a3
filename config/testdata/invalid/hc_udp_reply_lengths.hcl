# want: 8:24: max_reply_length 4 is less than min_reply_length 8
cluster = "c"
virtual_server "dns" {
  address = "10.0.0.1:53"
  health_check "udp" {
    require_reply    = true
    min_reply_length = 8
    max_reply_length = 4
  }
}
