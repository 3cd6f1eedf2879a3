# Converted by lvsd convert from testdata/oracle/vrrp.conf (node "lb1").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/oracle/vrrp.conf:6: router_id lb1

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/oracle/vrrp.conf:6 (router_id)
node "lb1" {
  priority = 150
}

# from testdata/oracle/vrrp.conf:21
vrrp_instance "VI_EXT" {
  interface        = "eth0"
  vrid             = 51
  version          = 2
  advert_interval  = "2s"
  preempt          = false
  virtual_ips      = ["192.0.2.100/24", "192.0.2.101/32", "192.0.2.102/32"]
  track_interfaces = ["eth1"]
  auth_pass        = "longpass"
  garp {
    repeat  = 3
    delay   = "10s"
    refresh = "60s"
  }
}

# from testdata/oracle/vrrp.conf:48
vrrp_instance "VI_INT" {
  interface       = "eth1"
  vrid            = 52
  version         = 3
  advert_interval = "250ms"
  preempt_delay   = "30s"
  priorities = {
    lb1 = 100
  }
  unicast_peers = ["10.0.0.11", "10.0.0.12"]
  virtual_ips   = ["10.0.0.1/24"]
  garp {
    repeat = 3
    delay  = "10s"
  }
}

# from testdata/oracle/vrrp.conf:66
vrrp_instance "VI_V6" {
  interface = "eth0"
  vrid      = 53
  version   = 3
  priorities = {
    lb1 = 255
  }
  virtual_ips = ["2001:db8::100/64"]
  garp {
    repeat = 3
    delay  = "10s"
  }
}

# from testdata/oracle/vrrp.conf:77
vrrp_instance "VI_DEF" {
  interface = "eth2"
  vrid      = 54
  version   = 2
  priorities = {
    lb1 = 100
  }
  virtual_ips = ["198.51.100.10/32"]
  auth_pass   = "s3cret"
  garp {
    repeat = 3
    delay  = "10s"
  }
}

# from testdata/oracle/vrrp.conf:11
vrrp_sync_group "G1" {
  instances = ["VI_EXT", "VI_INT"]
}
