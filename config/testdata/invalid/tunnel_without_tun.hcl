# want: 6:5: tunnel settings need method = "tun" (the method is "dr")
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {
    tunnel_type = "gre"
  }
}
