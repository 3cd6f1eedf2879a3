# want: 5:15: real server 2001:db8::11 is IPv6 but the service is IPv4
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "[2001:db8::11]:80" {
  }
}
