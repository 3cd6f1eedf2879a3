# want: 7:23: priorities["a"] must be between 1 and 255, got 256
cluster = "c"
node "a" {}
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  priorities  = { a = 256 }
  virtual_ips = ["10.0.0.1/32"]
}
