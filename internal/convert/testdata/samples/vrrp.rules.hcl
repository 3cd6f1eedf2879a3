# Converted by lvsd convert from testdata/samples/vrrp.rules.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/vrrp.rules.conf:7: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/vrrp.rules.conf:7 (router_id)
node "LVS_DEVEL" {
  priority = 100
}

# from testdata/samples/vrrp.rules.conf:15
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
}
