# want: 6:23: tracked interface "eth\u200b1" must not contain control or format characters (U+200B)
cluster = "c"
vrrp_instance "VI_1" {
  interface        = "eth0"
  vrid             = 51
  track_interfaces = ["eth\u200B1"]
  virtual_ips      = ["10.0.0.1/32"]
}
