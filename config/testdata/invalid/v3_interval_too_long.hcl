# want: 6:21: VRRP version 3 needs 10ms..40.95s
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  advert_interval = "41s"
  virtual_ips = ["10.0.0.1/32"]
}
