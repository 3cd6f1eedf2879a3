# want: 11:17: duplicate vrrp_sync_group "G1"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
vrrp_sync_group "G1" {
  instances = ["VI_1"]
}
vrrp_sync_group "G1" {
  instances = []
}
