# want: 6:21: VRRP version 3 needs 10ms..40.95s in steps of 10ms
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  advert_interval = "15ms"
  virtual_ips = ["10.0.0.1/32"]
}
