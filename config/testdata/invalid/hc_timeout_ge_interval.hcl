# want: 7:16: timeout 2s must be less than interval 2s
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "tcp" {
    interval = "2s"
    timeout  = "2s"
  }
  real_server "10.0.0.11" {
  }
}
