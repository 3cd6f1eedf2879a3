# want: 6:36: virtual IP 192.0.2.1 is a director's own address (it is in unicast_peers): a VIP must be an address of its own
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["192.0.2.100/32", "192.0.2.1/24"]
  unicast_peers = ["192.0.2.1", "192.0.2.2"]
}
