# want: 9:15: instances of vrrp_sync_group "G1" must not be empty
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
vrrp_sync_group "G1" {
  instances = []
}
