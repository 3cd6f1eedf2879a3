# want: 3:15: missing required attribute "vrid"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  virtual_ips = ["10.0.0.1/32"]
}
