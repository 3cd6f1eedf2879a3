# Converted by lvsd convert from testdata/samples/sample.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/sample.conf:5: notification_email { … }
#   testdata/samples/sample.conf:8: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/sample.conf:9: smtp_server 192.168.200.1
#   testdata/samples/sample.conf:10: smtp_connect_timeout 30
#   testdata/samples/sample.conf:11: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/sample.conf:11 (router_id)
node "LVS_DEVEL" {
  priority = 100
}

# from testdata/samples/sample.conf:14
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 50
  version         = 2
  advert_interval = "1s"
  preempt         = false
  virtual_ips     = ["192.168.200.11/32", "192.168.200.12/32", "192.168.200.13/32"]
}

# from testdata/samples/sample.conf:27
virtual_server "10.10.10.2:1358" {
  address      = "10.10.10.2:1358"
  protocol     = "tcp"
  scheduler    = "rr"
  method       = "nat"
  persistence  = "50s"
  sorry_server = "192.168.200.200:1358"
  real_server "192.168.200.2:1358" {
    weight = 1
    health_check "http" {
      interval           = "6s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "3s"
      url {
        path   = "/testurl3/test.jsp"
        digest = "640205b7b0fc66c1ea91c463fac6334d"
      }
    }
  }
}
