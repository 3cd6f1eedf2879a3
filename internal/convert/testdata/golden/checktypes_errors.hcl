# Converted by lvsd convert from testdata/golden/checktypes_errors.conf (node "lb1").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/checktypes_errors.conf:3: router_id lb1

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/checktypes_errors.conf:3 (router_id)
node "lb1" {
}

# from testdata/golden/checktypes_errors.conf:6
virtual_server "192.0.2.53:53/udp" {
  address   = "192.0.2.53:53"
  protocol  = "udp"
  scheduler = "rr"
  method    = "nat"
  real_server "192.0.2.11:53" {
    weight = 1
    health_check "udp" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
      require_reply      = true
    }
  }
  real_server "192.0.2.12:53" {
    weight = 1
    health_check "udp" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
    }
  }
  real_server "192.0.2.13:53" {
    weight = 1
    health_check "dns" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "10s"
    }
  }
  real_server "192.0.2.14:53" {
    weight = 1
  }
}
