# want: 6:12: unknown query type "AXFR"
cluster = "c"
virtual_server "dns" {
  address = "10.0.0.1:53"
  health_check "dns" {
    type = "AXFR"
  }
}
