# want: 6:21: advert_interval: invalid duration "1 second"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  advert_interval = "1 second"
  virtual_ips = ["10.0.0.1/32"]
}
