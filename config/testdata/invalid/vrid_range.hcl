# want: 5:17: vrid must be between 1 and 255, got 256
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 256
  virtual_ips = ["10.0.0.1/32"]
}
