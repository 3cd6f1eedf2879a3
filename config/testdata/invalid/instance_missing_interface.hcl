# want: 3:15: vrrp_instance "VI_1": missing required attribute "interface"
cluster = "c"
vrrp_instance "VI_1" {
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
