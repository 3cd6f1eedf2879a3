# want: 10:23: priority 255 on both "a" and "b" in vrrp_instance "VI_1"
cluster = "c"
node "a" {
  priority = 255
}
node "b" {}
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  priorities  = { b = 255 }
  virtual_ips = ["10.0.0.1/32"]
}
