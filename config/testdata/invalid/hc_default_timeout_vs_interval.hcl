# want: 6:16: interval 1s must be more than the timeout (2s, the default)
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "tcp" {
    interval = "1s"
  }
  real_server "10.0.0.11" {
  }
}
