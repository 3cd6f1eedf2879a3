# want: 5:17: vrid must be a number, got a string
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = "51"
  virtual_ips = ["10.0.0.1/32"]
}
