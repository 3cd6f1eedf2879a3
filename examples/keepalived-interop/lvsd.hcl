# Pairing lvsd with a keepalived director, to migrate a cluster one
# director at a time. keepalived.conf beside this file is the matching
# configuration of the keepalived node ("director-b" here).
#
# What has to agree: interface, virtual_router_id = vrid, the VRRP version
# (keepalived's vrrp_version, default 2), advert_int, the VIPs, and for
# VRRPv2 the authentication password. Unicast peers must list each other.
cluster = "legacy"

node "director-a" {
  priority = 150
}

node "director-b" {
  priority = 100
}

# VRRPv2 with a simple password, as most existing keepalived setups run.
vrrp_instance "VI_V2" {
  interface       = "eth0"
  vrid            = 51
  version         = 2
  advert_interval = "1s"
  auth_pass       = "secret1"
  virtual_ips     = ["192.0.2.100/32", "192.0.2.101/32"]
}

# VRRPv3 with sub-second adverts over unicast.
vrrp_instance "VI_V3" {
  interface       = "eth0"
  vrid            = 54
  version         = 3
  advert_interval = "100ms"
  unicast_peers   = ["192.0.2.11", "192.0.2.12"]
  virtual_ips     = ["192.0.2.110/32"]
}
