# want: 6:33: virtual IP 2001:db8::1/128 is IPv6 but the first one is IPv4
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32", "2001:db8::1/128"]
}
