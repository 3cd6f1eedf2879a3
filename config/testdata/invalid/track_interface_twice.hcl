# want: 6:19: interface eth1 is already tracked (at line 5)
cluster = "c"
vrrp_instance "VI_1" {
  interface        = "eth0"
  track_interfaces = ["eth1"]
  track_interface "eth1" { weight = -10 }
  vrid             = 51
  virtual_ips      = ["10.0.0.1/32"]
}
