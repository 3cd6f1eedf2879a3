# want: 7:15: real server 2001:db8::12 is IPv6 but the service is IPv4
cluster = "c"
virtual_server "web" {
  fwmark = 3
  real_server "10.0.0.11" {
  }
  real_server "2001:db8::12" {
  }
}
