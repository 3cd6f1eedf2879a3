# want: 11:18: virtual IP 10.0.0.1 is also in vrrp_instance "VI_1"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
vrrp_instance "VI_2" {
  interface   = "eth0"
  vrid        = 52
  virtual_ips = ["10.0.0.1/24"]
}
