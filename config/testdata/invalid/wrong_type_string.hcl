# want: 4:17: interface must be a string, got a number
cluster = "c"
vrrp_instance "VI_1" {
  interface   = 5
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
