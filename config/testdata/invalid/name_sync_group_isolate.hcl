# want: 8:17: vrrp_sync_group "G\u20661" must not contain control or format characters (U+2066)
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
vrrp_sync_group "G\u20661" {
  instances = ["VI_1"]
}
