# want: 8:15: master: the command (first element) must not be empty
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
  notify {
    master = ["", "x"]
  }
}
