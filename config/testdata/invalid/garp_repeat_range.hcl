# want: 8:14: repeat must be between 1 and 100, got 0
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
  garp {
    repeat = 0
  }
}
