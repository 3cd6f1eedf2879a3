# want: 10:17: vrid 51 is already used on eth0 by vrrp_instance "VI_1"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
vrrp_instance "VI_2" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.2/32"]
}
