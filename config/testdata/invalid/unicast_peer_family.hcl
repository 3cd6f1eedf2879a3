# want: 7:32: unicast peer 2001:db8::2 is IPv6 but the virtual IPs are IPv4
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
  unicast_peers = ["10.0.0.2", "2001:db8::2"]
}
