# want: 7:15: real server 10.0.0.11 has no port for its tcp check
cluster = "c"
virtual_server "web" {
  fwmark = 1
  health_check "tcp" {
  }
  real_server "10.0.0.11" {
  }
}
