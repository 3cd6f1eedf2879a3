# want: 7:21: VRRP version 2 needs whole seconds
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  advert_interval = "500ms"
  virtual_ips = ["10.0.0.1/32"]
}
