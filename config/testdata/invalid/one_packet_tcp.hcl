# want: 5:16: one_packet needs protocol = "udp"
cluster = "c"
virtual_server "web" {
  address    = "10.0.0.1:80"
  one_packet = true
}
