# want: 6:17: handover = "relay" needs the peer director's address
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  handover    = "relay"
  virtual_ips = ["10.0.0.1/32"]
}
