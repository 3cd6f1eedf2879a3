# want: 9:17: tunnel_type = "gue" needs tunnel_port
# want: 12:5: tunnel_port is for tunnel_type = "gue" only (the type is "gre")
# want: 16:23: tunnel_checksum "csum": ipip has no checksum option
# want: 20:23: tunnel_checksum "remcsum" is for gue only
cluster = "c"
virtual_server "web" {
  address     = "10.0.0.1:80"
  method      = "tun"
  tunnel_type = "gue"
  real_server "10.0.0.11" {
    tunnel_type = "gre"
    tunnel_port = 6080
  }
  real_server "10.0.0.12" {
    tunnel_type     = "ipip"
    tunnel_checksum = "csum"
  }
  real_server "10.0.0.13" {
    tunnel_type     = "gre"
    tunnel_checksum = "remcsum"
  }
}
