# want: 4:17: interface "eth\u00850" must not contain control or format characters (U+0085)
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth\u00850"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
