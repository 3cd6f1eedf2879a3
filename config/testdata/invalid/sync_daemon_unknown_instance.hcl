# want: 11:21: sync_daemon names "VI_9", which is not a vrrp_instance
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
ipvs {
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "VI_9"
  }
}
