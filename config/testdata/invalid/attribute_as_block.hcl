# want: 5:3: vrid is an attribute, not a block
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid {}
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
