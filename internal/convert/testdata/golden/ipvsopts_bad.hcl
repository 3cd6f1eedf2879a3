# Converted by lvsd convert from testdata/golden/ipvsopts_bad.conf (node "ipvsopts_bad").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/ipvsopts_bad.conf
node "ipvsopts_bad" {
}

# from testdata/golden/ipvsopts_bad.conf:2
virtual_server_group "MIXED" {
  addresses = ["192.0.2.1:80"]
}

# from testdata/golden/ipvsopts_bad.conf:12
virtual_server "MIXED" {
  group     = "MIXED"
  protocol  = "tcp"
  scheduler = "rr"
  method    = "dr"
  real_server "198.51.100.1:80" {
    weight = 1
  }
}
