# want: 6:17: virtual_ips must be a list, got a string
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = "10.0.0.1/32"
}
