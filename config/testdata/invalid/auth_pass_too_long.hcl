# want: 7:17: auth_pass must be at most 8 bytes, got 9
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  auth_pass   = "123456789"
  virtual_ips = ["10.0.0.1/32"]
}
