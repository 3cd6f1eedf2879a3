# want: 6:5: tls_skip_verify does not apply to a http health check (only https)
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "http" {
    tls_skip_verify = true
  }
}
