# Converted by lvsd convert from testdata/samples/vrrp.scripts.conf (node "vrrp.scripts").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/vrrp.scripts.conf:20: smtp_alert

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/vrrp.scripts.conf
node "vrrp.scripts" {
  priority = 100
}

# from testdata/samples/vrrp.scripts.conf:17
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  version         = 2
  advert_interval = "1s"
  virtual_ips     = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
  auth_pass       = "1111"
  notify {
    master = ["/usr/local/bin/vrrp.sh", "MASTER", "VI_1"]
    backup = ["/usr/local/bin/vrrp.sh", "BACKUP", "VI_1"]
    fault  = ["/usr/local/bin/vrrp.sh", "FAULT", "VI_1"]
  }
}

# from testdata/samples/vrrp.scripts.conf:39
vrrp_instance "VI_2" {
  interface = "eth0"
  vrid      = 52
  version   = 2
  priorities = {
    "vrrp.scripts" = 150
  }
  virtual_ips = ["192.168.200.100/27"]
}

# from testdata/samples/vrrp.scripts.conf:49
vrrp_instance "VI_3" {
  interface = "eth0"
  vrid      = 53
  version   = 2
  priorities = {
    "vrrp.scripts" = 150
  }
  virtual_ips = ["192.168.200.101/27"]
}

# from testdata/samples/vrrp.scripts.conf:7
vrrp_sync_group "G1" {
  instances = ["VI_2", "VI_3"]
  notify {
    backup = ["/usr/local/bin/vrrp.back", "arg1", "arg2"]
    master = ["/usr/local/bin/vrrp.mast", "arg1", "arg2"]
    fault  = ["/usr/local/bin/vrrp.fault", "arg1", "arg2"]
  }
}
