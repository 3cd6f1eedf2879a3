# want: 6:33: virtual IP 10.0.0.1 is listed twice
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32", "10.0.0.1"]
}
