# want: 5:16: unknown health_check type "icmp" (want tcp, http, https, exec, udp, dns, ping, smtp)
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "icmp" {
  }
}
