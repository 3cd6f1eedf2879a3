# want: 9:24: vrrp_sync_group "G1" names "VI_2", which is not a vrrp_instance; did you mean "VI_1"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
vrrp_sync_group "G1" {
  instances = ["VI_1", "VI_2"]
}
