# Converted by lvsd convert from testdata/samples/vrrp.static_ipaddress.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/vrrp.static_ipaddress.conf:5: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/vrrp.static_ipaddress.conf:5 (router_id)
node "LVS_DEVEL" {
  priority = 100
}

# from testdata/samples/vrrp.static_ipaddress.conf:14
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["192.168.200.20/32"]
}
