# want: 6:17: version must be between 2 and 3, got 4
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 4
  virtual_ips = ["10.0.0.1/32"]
}
