# want: 8:16: digest must be an MD5 in hex (32 hex digits, as `lvsd digest URL` prints), got "abc"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "http" {
    url {
      path   = "/a"
      digest = "abc"
    }
  }
}
