# want: 8:15: duplicate vrrp_instance "VI_1"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 52
  virtual_ips = ["10.0.0.2/32"]
}
