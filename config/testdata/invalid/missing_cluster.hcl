# want: 1:1: missing required attribute "cluster"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
