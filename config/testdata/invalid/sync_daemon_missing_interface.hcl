# want: 9:3: sync_daemon: missing required attribute "interface"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
ipvs {
  sync_daemon {
    vrrp_instance = "VI_1"
  }
}
