# want: 8:28: priorities names node "c", which is not declared (declared: a, b)
cluster = "c"
node "a" {}
node "b" {}
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  priorities  = { a = 150, c = 120 }
  virtual_ips = ["10.0.0.1/32"]
}
