# want: 5:14: unknown protocol "icmp"
cluster = "c"
virtual_server "web" {
  address  = "10.0.0.1:80"
  protocol = "icmp"
}
