# Converted by lvsd convert from testdata/golden/vrrp.conf (node "lb1").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/vrrp.conf:4: router_id lb1
#   testdata/golden/vrrp.conf:5: notification_email { … }
#   testdata/golden/vrrp.conf:8: notification_email_from lb1@example.com
#   testdata/golden/vrrp.conf:9: smtp_server 192.0.2.25
#   testdata/golden/vrrp.conf:10: smtp_connect_timeout 30
#   testdata/golden/vrrp.conf:11: smtp_alert
#   testdata/golden/vrrp.conf:12: enable_snmp_vrrp
#   testdata/golden/vrrp.conf:13: enable_dbus
#   testdata/golden/vrrp.conf:47: smtp_alert
#   testdata/golden/vrrp.conf:85: smtp_alert

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/vrrp.conf:4 (router_id)
node "lb1" {
  priority = 150
}

# from testdata/golden/vrrp.conf:18
vrrp_instance "VI_EXT" {
  interface        = "eth0"
  vrid             = 51
  version          = 2
  advert_interval  = "2s"
  preempt          = false
  preempt_delay    = "30s"
  virtual_ips      = ["192.0.2.100/24", "192.0.2.101/32", "192.0.2.102/32"]
  track_interfaces = ["eth1"]
  auth_pass        = "longpass"
  garp {
    repeat  = 3
    delay   = "10s"
    refresh = "60s"
  }
  notify {
    master = ["/usr/local/bin/notify", "master", "VI EXT"]
    backup = ["/usr/local/bin/notify-backup"]
    fault  = ["/usr/local/bin/notify", "fault", ">", "/tmp/x"]
    stop   = ["/usr/local/bin/notify", "stop"]
  }
}

# from testdata/golden/vrrp.conf:50
vrrp_instance "VI_INT" {
  interface       = "eth1"
  vrid            = 52
  version         = 3
  advert_interval = "250ms"
  priorities = {
    lb1 = 100
  }
  unicast_peers = ["10.0.0.11", "10.0.0.12"]
  virtual_ips   = ["10.0.0.1/24"]
  accept        = false
  garp {
    delay = "0s"
  }
}

# from testdata/golden/vrrp.conf:67
vrrp_instance "VI_V6" {
  interface = "eth0"
  vrid      = 53
  version   = 3
  priorities = {
    lb1 = 100
  }
  virtual_ips = ["2001:db8::100/64"]
  garp {
    delay = "10s"
  }
}

# from testdata/golden/vrrp.conf:80
vrrp_sync_group "G1" {
  instances = ["VI_EXT", "VI_INT"]
}
