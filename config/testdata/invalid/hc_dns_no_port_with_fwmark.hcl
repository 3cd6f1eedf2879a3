# want: 7:15: real server 10.0.0.11 has no port for its dns check
cluster = "c"
virtual_server "dns" {
  fwmark = 1
  health_check "dns" {
  }
  real_server "10.0.0.11" {
  }
}
