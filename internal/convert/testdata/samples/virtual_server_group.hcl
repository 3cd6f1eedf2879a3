# Converted by lvsd convert from testdata/samples/virtual_server_group.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/virtual_server_group.conf:5: notification_email { … }
#   testdata/samples/virtual_server_group.conf:8: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/virtual_server_group.conf:9: smtp_server 192.168.200.1
#   testdata/samples/virtual_server_group.conf:10: smtp_connect_timeout 30
#   testdata/samples/virtual_server_group.conf:11: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/virtual_server_group.conf:11 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/virtual_server_group.conf:14
virtual_server_group "VSG_1" {
  addresses = ["10.0.0.1:8080", "10.0.0.2:80", "192.168.200.1:1358", "192.168.200.3-10:80"]
  fwmarks   = [1, 2]
}

# from testdata/samples/virtual_server_group.conf:23
virtual_server "VSG_1" {
  group       = "VSG_1"
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
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
  real_server "192.168.200.1:1358" {
    weight = 1
  }
  real_server "192.168.200.2:1358" {
    weight = 1
  }
}
