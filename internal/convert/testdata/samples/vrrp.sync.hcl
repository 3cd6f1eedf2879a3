# Converted by lvsd convert from testdata/samples/vrrp.sync.conf (node "vrrp.sync").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/vrrp.sync.conf
node "vrrp.sync" {
  priority = 100
}

# from testdata/samples/vrrp.sync.conf:26
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["192.168.200.18/25"]
}

# from testdata/samples/vrrp.sync.conf:36
vrrp_instance "VI_2" {
  interface   = "eth1"
  vrid        = 52
  version     = 2
  virtual_ips = ["192.168.201.18/26"]
}

# from testdata/samples/vrrp.sync.conf:46
vrrp_instance "VI_3" {
  interface   = "eth0"
  vrid        = 53
  version     = 2
  virtual_ips = ["192.168.200.19/27"]
}

# from testdata/samples/vrrp.sync.conf:55
vrrp_instance "VI_4" {
  interface   = "eth1"
  vrid        = 54
  version     = 2
  virtual_ips = ["192.168.201.19/28"]
}

# from testdata/samples/vrrp.sync.conf:64
vrrp_instance "VI_5" {
  interface   = "eth0"
  vrid        = 55
  version     = 2
  virtual_ips = ["192.168.200.20/27"]
}

# from testdata/samples/vrrp.sync.conf:74
vrrp_instance "VI_6" {
  interface   = "eth0"
  vrid        = 56
  version     = 2
  virtual_ips = ["192.168.200.21/27"]
}

# from testdata/samples/vrrp.sync.conf:84
vrrp_instance "VI_7" {
  interface   = "eth0"
  vrid        = 57
  version     = 2
  virtual_ips = ["192.168.200.22/27"]
}

# from testdata/samples/vrrp.sync.conf:94
vrrp_instance "VI_8" {
  interface   = "eth0"
  vrid        = 58
  version     = 2
  virtual_ips = ["192.168.200.23/27"]
}

# from testdata/samples/vrrp.sync.conf:104
vrrp_instance "VI_9" {
  interface   = "eth0"
  vrid        = 59
  version     = 2
  virtual_ips = ["192.168.200.24/27"]
}

# from testdata/samples/vrrp.sync.conf:4
vrrp_sync_group "G1" {
  instances = ["VI_1", "VI_2", "VI_5", "VI_6", "VI_7", "VI_8", "VI_9"]
  notify {
    backup = ["/usr/local/bin/vrrp.back", "arg1", "arg2"]
    master = ["/usr/local/bin/vrrp.mast", "arg1", "arg2"]
    fault  = ["/usr/local/bin/vrrp.fault", "arg1", "arg2"]
  }
}

# from testdata/samples/vrrp.sync.conf:19
vrrp_sync_group "G2" {
  instances = ["VI_3", "VI_4"]
}
