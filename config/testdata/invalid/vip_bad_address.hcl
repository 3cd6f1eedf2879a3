# want: 6:18: invalid virtual IP "10.0.0.300/32"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.300/32"]
}
