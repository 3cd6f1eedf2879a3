# Converted by lvsd convert from testdata/samples/vrrp.localcheck.conf (node "vrrp.localcheck").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/vrrp.localcheck.conf
node "vrrp.localcheck" {
  priority = 100
}

# from testdata/samples/vrrp.localcheck.conf:12
track_script "chk_sshd" {
  command  = ["killall", "-0", "sshd"]
  interval = "2s"
  weight   = -4
  fall     = 2
  rise     = 2
}

# from testdata/samples/vrrp.localcheck.conf:20
track_script "chk_haproxy" {
  command  = ["killall", "-0", "haproxy"]
  interval = "2s"
}

# from testdata/samples/vrrp.localcheck.conf:25
track_script "chk_http_port" {
  command  = ["</dev/tcp/127.0.0.1/80"]
  interval = "1s"
  weight   = -2
}

# from testdata/samples/vrrp.localcheck.conf:31
track_script "chk_https_port" {
  command  = ["</dev/tcp/127.0.0.1/443"]
  interval = "1s"
  weight   = -2
}

# from testdata/samples/vrrp.localcheck.conf:37
track_script "chk_smtp_port" {
  command  = ["</dev/tcp/127.0.0.1/25"]
  interval = "1s"
  weight   = -2
}

# from testdata/samples/vrrp.localcheck.conf:43
vrrp_instance "VI_1" {
  interface        = "eth0"
  vrid             = 51
  version          = 2
  virtual_ips      = ["192.168.200.18/25"]
  track_interfaces = ["eth3"]
  track_interface "eth1" {
    weight = 2
  }
  track_interface "eth2" {
    weight = -2
  }
  track_script "chk_sshd" {
  }
  track_script "chk_haproxy" {
    weight = 2
  }
  track_script "chk_http_port" {
  }
  track_script "chk_https_port" {
  }
  track_script "chk_smtp_port" {
  }
}

# from testdata/samples/vrrp.localcheck.conf:65
vrrp_instance "VI_2" {
  interface        = "eth1"
  vrid             = 52
  version          = 2
  virtual_ips      = ["192.168.201.18/26"]
  track_interfaces = ["eth3"]
  track_interface "eth0" {
    weight = 2
  }
  track_interface "eth2" {
    weight = -2
  }
  track_script "chk_haproxy" {
    weight = 2
  }
  track_script "chk_http_port" {
  }
  track_script "chk_https_port" {
  }
  track_script "chk_smtp_port" {
  }
}

# from testdata/samples/vrrp.localcheck.conf:86
vrrp_instance "VI_3" {
  interface   = "eth0"
  vrid        = 53
  version     = 2
  virtual_ips = ["192.168.200.19/27"]
}

# from testdata/samples/vrrp.localcheck.conf:95
vrrp_instance "VI_4" {
  interface   = "eth1"
  vrid        = 54
  version     = 2
  virtual_ips = ["192.168.201.19/28"]
}

# from testdata/samples/vrrp.localcheck.conf:104
vrrp_instance "VI_5" {
  interface   = "eth0"
  vrid        = 55
  version     = 2
  virtual_ips = ["192.168.200.20/27"]
}

# from testdata/samples/vrrp.localcheck.conf:115
vrrp_instance "VI_6" {
  interface   = "eth0"
  vrid        = 56
  version     = 2
  virtual_ips = ["192.168.200.21/27"]
}

# from testdata/samples/vrrp.localcheck.conf:125
vrrp_instance "VI_7" {
  interface   = "eth0"
  vrid        = 57
  version     = 2
  virtual_ips = ["192.168.200.22/27"]
}

# from testdata/samples/vrrp.localcheck.conf:135
vrrp_instance "VI_8" {
  interface   = "eth0"
  vrid        = 58
  version     = 2
  virtual_ips = ["192.168.200.23/27"]
}

# from testdata/samples/vrrp.localcheck.conf:145
vrrp_instance "VI_9" {
  interface   = "eth0"
  vrid        = 59
  version     = 2
  virtual_ips = ["192.168.200.24/27"]
}
