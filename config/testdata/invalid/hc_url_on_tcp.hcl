# want: 6:5: url does not apply to a tcp health check (only http, https)
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "tcp" {
    url { path = "/b" }
  }
}
