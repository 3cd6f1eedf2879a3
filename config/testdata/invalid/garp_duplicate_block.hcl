# want: 8:3: duplicate garp block (the first is at line
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
  garp {}
  garp {}
}
