# want: 12:19: mcast_group 10.0.0.81 is not a multicast address
cluster = "c"
vrrp_instance "VI" {
  interface = "eth0"
  vrid = 1
  virtual_ips = ["10.0.0.1"]
}
ipvs {
  sync_daemon {
    interface = "eth1"
    vrrp_instance = "VI"
    mcast_group = "10.0.0.81"
  }
}
