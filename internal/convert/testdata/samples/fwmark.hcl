# Converted by lvsd convert from testdata/samples/fwmark.conf (node "io").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/fwmark.conf:5: router_id io

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/fwmark.conf:5 (router_id)
node "io" {
}

# from testdata/samples/fwmark.conf:8
virtual_server "fwmark 1" {
  fwmark      = 1
  scheduler   = "rr"
  method      = "nat"
  persistence = "900s"
  health_check "tcp" {
    interval           = "6s"
    timeout            = "3s"
    rise               = 1
    fall               = 1
    retry              = 1
    delay_before_retry = "1s"
    port               = 80
  }
  real_server "192.168.201.100" {
    weight = 1
  }
  real_server "192.168.201.101" {
    weight = 1
  }
}
