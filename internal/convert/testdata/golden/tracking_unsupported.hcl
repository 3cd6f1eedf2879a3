# Converted by lvsd convert from testdata/golden/tracking_unsupported.conf (node "tracking_unsupported").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/tracking_unsupported.conf
node "tracking_unsupported" {
  priority = 100
}

# from testdata/golden/tracking_unsupported.conf:3
track_script "chk" {
  command = ["/usr/local/bin/chk"]
}

# from testdata/golden/tracking_unsupported.conf:10
track_file "f" {
  path = "/run/f"
}

# from testdata/golden/tracking_unsupported.conf:16
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["192.0.2.100/32"]
}
