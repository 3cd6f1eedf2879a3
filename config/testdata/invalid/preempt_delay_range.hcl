# want: 6:19: preempt_delay must be at most 16m40s
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  preempt_delay = "1001s"
  virtual_ips = ["10.0.0.1/32"]
}
