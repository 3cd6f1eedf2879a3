# want: 7:3: garp is a block, not an attribute
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
  garp = { repeat = 2 }
}
