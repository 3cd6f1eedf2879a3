# Converted by lvsd convert from testdata/golden/include/keepalived.conf (node "lb1").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/include/conf.d/global.inc:1: router_id lb1

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/include/conf.d/global.inc:1 (router_id)
node "lb1" {
  priority = 100
}

# from testdata/golden/include/conf.d/vrrp.inc:1
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  version         = 3
  advert_interval = "500ms"
  virtual_ips     = ["192.0.2.100/32"]
}

# from testdata/golden/include/conf.d/vs-mail.inc:1
virtual_server "192.0.2.100:25" {
  address   = "192.0.2.100:25"
  protocol  = "tcp"
  scheduler = "wlc"
  method    = "nat"
  real_server "10.0.0.3:25" {
    weight = 5
  }
}

# from testdata/golden/include/conf.d/vs-web.inc:1
virtual_server "192.0.2.100:80" {
  address   = "192.0.2.100:80"
  protocol  = "tcp"
  scheduler = "wlc"
  method    = "nat"
  real_server "10.0.0.2:8080" {
    weight = 1
  }
}
