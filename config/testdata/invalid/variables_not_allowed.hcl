# want: 5:17: variables not allowed
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = var.vrid
  virtual_ips = ["10.0.0.1/32"]
}
