# want: 6:5: delay_before_retry needs retry > 0
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "tcp" {
    delay_before_retry = "2s"
  }
}
