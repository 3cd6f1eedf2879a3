# One VIP, two protocols: two IPVS services. No node is declared, so any
# node name resolves, with the default priority.
cluster = "dns"

vrrp_instance "VI_6" {
  interface   = "eth0"
  vrid        = 9
  virtual_ips = ["2001:db8::53/64"]
  unicast_peers = ["2001:db8::1", "2001:db8::2"]
}

virtual_server "dns-udp" {
  address      = "[2001:db8::53]:53"
  protocol     = "udp"
  method       = "nat"
  persistence  = "10s"
  sorry_server = "2001:db8::99"
  real_server "[2001:db8::10]:5353" {}
}

virtual_server "dns-tcp" {
  address  = "[2001:db8::53]:53"
  protocol = "tcp"
  health_check "tcp" {
    port = 53
  }
  real_server "2001:db8::10" {}
}
