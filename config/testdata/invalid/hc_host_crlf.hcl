# want: 6:12: host "www\r\nX-Injected: 1" must not contain control or format characters (U+000D)
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "http" {
    host = "www\r\nX-Injected: 1"
  }
  real_server "10.0.0.2:80" {}
}
