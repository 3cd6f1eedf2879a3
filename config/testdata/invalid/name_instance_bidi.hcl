# want: 3:15: vrrp_instance "VI_\u202e1" must not contain control or format characters (U+202E)
cluster = "c"
vrrp_instance "VI_\u202E1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
