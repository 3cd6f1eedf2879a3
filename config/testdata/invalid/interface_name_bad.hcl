# want: 4:17: invalid interface name "eth0/1"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0/1"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
