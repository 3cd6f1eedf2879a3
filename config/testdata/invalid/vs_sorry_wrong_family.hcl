# want: 5:18: sorry_server 2001:db8::50 is IPv6 but the service is IPv4
cluster = "c"
virtual_server "web" {
  address      = "10.0.0.1:80"
  sorry_server = "[2001:db8::50]:80"
}
