# Converted by lvsd convert from testdata/samples/conditional_conf.conf (node "conditional_conf").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/conditional_conf.conf
node "conditional_conf" {
  priority = 100
}

# from testdata/samples/conditional_conf.conf:16
vrrp_instance "VI_0" {
  interface        = "eth0"
  vrid             = 1
  version          = 3
  advert_interval  = "12s"
  virtual_ips      = ["10.1.0.254/32"]
  track_interfaces = ["eth3"]
  track_interface "eth2" {
    weight = 20
  }
}
