# want: 7:20: invalid unicast peer address "10.0.0"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
  unicast_peers = ["10.0.0"]
}
