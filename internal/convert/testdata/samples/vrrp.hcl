# Converted by lvsd convert from testdata/samples/vrrp.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/vrrp.conf:5: notification_email { … }
#   testdata/samples/vrrp.conf:8: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/vrrp.conf:9: smtp_server 192.168.200.1
#   testdata/samples/vrrp.conf:10: smtp_connect_timeout 30
#   testdata/samples/vrrp.conf:11: router_id LVS_DEVEL
#   testdata/samples/vrrp.conf:18: smtp_alert
#   testdata/samples/vrrp.conf:39: smtp_alert
#   testdata/samples/vrrp.conf:53: smtp_alert
#   testdata/samples/vrrp.conf:70: smtp_alert

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/vrrp.conf:11 (router_id)
node "LVS_DEVEL" {
  priority = 100
}

# from testdata/samples/vrrp.conf:14
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  version         = 2
  advert_interval = "1s"
  virtual_ips     = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32", "192.168.200.18/32"]
  auth_pass       = "1111"
  garp {
    delay = "10s"
  }
}

# from testdata/samples/vrrp.conf:37
vrrp_instance "VI_2" {
  interface       = "eth0"
  vrid            = 50
  version         = 2
  advert_interval = "1s"
  priorities = {
    LVS_DEVEL = 50
  }
  virtual_ips = ["192.168.200.13/32", "192.168.200.14/32", "192.168.200.15/32"]
}

# from testdata/samples/vrrp.conf:50
vrrp_instance "VI_3" {
  interface       = "eth1"
  vrid            = 52
  version         = 2
  advert_interval = "1s"
  virtual_ips     = ["192.168.201.13/32", "192.168.201.14/32", "192.168.201.15/32"]
  auth_pass       = "1111"
}

# from testdata/samples/vrrp.conf:68
vrrp_instance "VI_4" {
  interface       = "eth1"
  vrid            = 53
  version         = 2
  advert_interval = "1s"
  priorities = {
    LVS_DEVEL = 50
  }
  virtual_ips = ["192.168.201.16/32", "192.168.201.17/32", "192.168.201.18/32"]
}
