# want: 7:21: VRRP version 2 allows at most 255s
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  advert_interval = "256s"
  virtual_ips = ["10.0.0.1/32"]
}
