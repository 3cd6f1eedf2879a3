# Converted by lvsd convert from testdata/samples/vrrp.lvs_syncd.conf (node "vrrp.lvs_syncd").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/vrrp.lvs_syncd.conf
node "vrrp.lvs_syncd" {
  priority = 150
}

# from testdata/samples/vrrp.lvs_syncd.conf:9
vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  version         = 2
  advert_interval = "1s"
  virtual_ips     = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
  auth_pass       = "grr02"
}

# from testdata/samples/vrrp.lvs_syncd.conf:27
vrrp_instance "VI_2" {
  interface       = "eth0"
  vrid            = 52
  version         = 2
  advert_interval = "1s"
  priorities = {
    "vrrp.lvs_syncd" = 100
  }
  virtual_ips = ["192.168.200.19/32", "192.168.200.20/32", "192.168.200.21/32"]
}

# from testdata/samples/vrrp.lvs_syncd.conf:39
vrrp_instance "VI_3" {
  interface       = "eth1"
  vrid            = 53
  version         = 2
  advert_interval = "1s"
  priorities = {
    "vrrp.lvs_syncd" = 100
  }
  virtual_ips = ["192.168.201.19/32", "192.168.201.20/32", "192.168.201.21/32"]
}

# from testdata/samples/vrrp.lvs_syncd.conf:51
virtual_server "192.168.200.19:80" {
  address     = "192.168.200.19:80"
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
  real_server "192.168.201.100:80" {
    weight = 1
    health_check "tcp" {
      interval           = "20s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
    }
  }
}

# from testdata/samples/vrrp.lvs_syncd.conf:12
ipvs {
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "VI_1"
  }
}
