# want: 6:17: VRRP version 2 is IPv4 only
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["2001:db8::1/64"]
}
