# Converted by lvsd convert from testdata/golden/tracking.conf (node "lb1").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/tracking.conf:6: router_id lb1

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/tracking.conf:6 (router_id)
node "lb1" {
  priority = 150
}

# from testdata/golden/tracking.conf:10
track_script "chk_haproxy" {
  command  = ["/usr/bin/killall", "-0", "haproxy"]
  interval = "2s"
  timeout  = "1s"
  rise     = 2
  fall     = 3
  weight   = -20
}

# from testdata/golden/tracking.conf:20
track_script "chk_disk" {
  command = ["/usr/local/bin/chk-disk", "/var/lib/a b"]
}

# from testdata/golden/tracking.conf:24
track_file "maint" {
  path   = "/run/keepalived/maint"
  weight = -10
}

# from testdata/golden/tracking.conf:29
track_file "drain" {
  path = "/run/keepalived/drain"
}

# from testdata/golden/tracking.conf:33
vrrp_instance "VI_1" {
  interface        = "eth0"
  vrid             = 51
  version          = 2
  virtual_ips      = ["192.0.2.100/32"]
  track_interfaces = ["eth1"]
  notify {
    master  = ["/usr/local/bin/to-master"]
    command = ["/usr/local/bin/vrrp-notify", "--all"]
  }
  track_interface "eth2" {
    weight = -30
  }
  track_script "chk_haproxy" {
  }
  track_script "chk_disk" {
    weight = 10
  }
  track_file "maint" {
  }
  track_file "drain" {
    weight = 0
  }
}

# from testdata/golden/tracking.conf:57
vrrp_instance "VI_EXT" {
  interface        = "eth0"
  vrid             = 52
  version          = 2
  virtual_ips      = ["192.0.2.110/32"]
  track_interfaces = ["eth3"]
}

# from testdata/golden/tracking.conf:72
vrrp_instance "VI_INT" {
  interface   = "eth1"
  vrid        = 53
  version     = 2
  virtual_ips = ["10.0.0.1/24"]
  track_file "drain" {
    weight = 0
  }
}

# from testdata/golden/tracking.conf:84
vrrp_sync_group "G1" {
  instances = ["VI_EXT", "VI_INT"]
  notify {
    command = ["/usr/local/bin/group-notify"]
    master  = ["/usr/local/bin/group-master", "now"]
    fault   = ["/usr/local/bin/group-fault"]
  }
}

# from testdata/golden/tracking.conf:94
virtual_server "192.0.2.100:80" {
  address     = "192.0.2.100:80"
  quorum_up   = ["/usr/local/bin/quorum", "up"]
  quorum_down = ["/usr/local/bin/quorum", "down"]
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "dr"
  quorum      = 2
  health_check "tcp" {
    interval           = "5s"
    timeout            = "2s"
    rise               = 1
    fall               = 1
    retry              = 1
    delay_before_retry = "1s"
  }
  real_server "192.0.2.12:80" {
    notify_up   = ["/usr/local/bin/rs", "up", "192.0.2.12"]
    notify_down = ["/usr/local/bin/rs", "down", "192.0.2.12"]
    weight      = 1
  }
  real_server "192.0.2.13:80" {
    weight = 1
  }
}
