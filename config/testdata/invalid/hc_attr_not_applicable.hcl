# want: 6:5: path does not apply to a tcp health check (only http, https)
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "tcp" {
    path = "/"
  }
}
