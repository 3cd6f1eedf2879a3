# want: 5:16: an exec health check needs command
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "exec" {
  }
}
