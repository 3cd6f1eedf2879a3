# want: 6:17: preempt must be true or false, got a string
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  preempt     = "yes"
  virtual_ips = ["10.0.0.1/32"]
}
