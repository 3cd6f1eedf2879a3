# Converted by lvsd convert from testdata/golden/disagree/a.conf (node "lb-a"), testdata/golden/disagree/b.conf (node "lb-b").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/disagree/a.conf:2: router_id lb-a
#   testdata/golden/disagree/b.conf:2: router_id lb-b

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/disagree/a.conf:2 (router_id)
node "lb-a" {
  priority = 150
}

# from testdata/golden/disagree/b.conf:2 (router_id)
node "lb-b" {
  priority = 150
}

# from testdata/golden/disagree/a.conf:4, testdata/golden/disagree/b.conf:4
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  version         = 2
  advert_interval = "1s"
  unicast_peers   = ["192.0.2.11", "192.0.2.12"]
  virtual_ips     = ["192.0.2.100/32"]
}

# from testdata/golden/disagree/a.conf:18, testdata/golden/disagree/b.conf:18
vrrp_instance "VI_2" {
  interface = "eth0"
  vrid      = 52
  version   = 2
  priorities = {
    lb-a = 100
    lb-b = 100
  }
  virtual_ips = ["192.0.2.200/32"]
}

# from testdata/golden/disagree/a.conf:27, testdata/golden/disagree/b.conf:27
virtual_server "192.0.2.100:80" {
  address   = "192.0.2.100:80"
  protocol  = "tcp"
  scheduler = "rr"
  method    = "dr"
  real_server "192.0.2.21:80" {
    weight = 1
    health_check "tcp" {
      interval           = "5s"
      timeout            = "2s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
    }
  }
}
