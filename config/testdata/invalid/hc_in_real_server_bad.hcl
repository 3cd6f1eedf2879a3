# want: 7:17: timeout 5s must be less than interval 5s
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {
    health_check "tcp" {
      timeout = "5s"
    }
  }
}
