# want: 6:5: port does not apply to a ping health check
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "ping" {
    port = 80
  }
}
