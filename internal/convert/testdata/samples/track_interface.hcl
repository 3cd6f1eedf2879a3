# Converted by lvsd convert from testdata/samples/track_interface.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/track_interface.conf:5: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/track_interface.conf:5 (router_id)
node "LVS_DEVEL" {
  priority = 100
}

# from testdata/samples/track_interface.conf:15
vrrp_instance "VI_1" {
  interface        = "eth0.1"
  vrid             = 51
  version          = 2
  virtual_ips      = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
  track_interfaces = ["eth0", "eth1"]
}
