# want: 7:17: priorities must be a map
cluster = "c"
node "a" {}
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  priorities  = [150]
  virtual_ips = ["10.0.0.1/32"]
}
