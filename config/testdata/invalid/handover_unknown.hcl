# want: 6:17: unknown handover "drain" (want one of release, relay)
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  handover    = "drain"
  virtual_ips = ["10.0.0.1/32"]
}
