# Converted by lvsd convert from testdata/samples/UDP_CHECK.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/UDP_CHECK.conf:6: notification_email { … }
#   testdata/samples/UDP_CHECK.conf:9: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/UDP_CHECK.conf:10: smtp_server 192.168.200.1
#   testdata/samples/UDP_CHECK.conf:11: smtp_connect_timeout 30
#   testdata/samples/UDP_CHECK.conf:12: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/UDP_CHECK.conf:12 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/UDP_CHECK.conf:15
virtual_server "10.10.10.2:1358/udp" {
  address     = "10.10.10.2:1358"
  protocol    = "udp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
  real_server "192.168.200.6:1358" {
    weight = 1
    health_check "udp" {
      interval           = "6s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "3s"
    }
  }
}
