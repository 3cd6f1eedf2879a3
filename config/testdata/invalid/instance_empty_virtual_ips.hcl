# want: 6:17: virtual_ips must not be empty
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = []
}
