# want: 6:18: virtual IP "224.0.0.18/32" is not a unicast address
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["224.0.0.18/32"]
}
