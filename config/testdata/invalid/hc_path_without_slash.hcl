# want: 6:12: path must start with /, got "healthz"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "https" {
    path = "healthz"
  }
}
