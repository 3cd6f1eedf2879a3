# want: 6:17: auth_pass needs version = 2
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  auth_pass   = "secret"
  virtual_ips = ["10.0.0.1/32"]
}
