# want: 5:15: real server 10.0.0.11 is IPv4 but its check's bind_to 2001:db8::1 is IPv6
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {
    health_check "tcp" { bind_to = "2001:db8::1" }
  }
}
