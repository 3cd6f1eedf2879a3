# want: 6:15: method tun cannot map ports
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  method  = "tun"
  real_server "10.0.0.11:8080" {
  }
}
