# Converted by lvsd convert from testdata/golden/checktypes.conf (node "lb1").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/checktypes.conf:4: router_id lb1

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/checktypes.conf:4 (router_id)
node "lb1" {
}

# from testdata/golden/checktypes.conf:7
virtual_server "192.0.2.53:53/udp" {
  address   = "192.0.2.53:53"
  protocol  = "udp"
  scheduler = "rr"
  method    = "dr"
  real_server "192.0.2.11:53" {
    weight = 1
    health_check "udp" {
      interval           = "10s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
      payload            = "1234 0100 0001 0000 0000 0000 00 0006 0001"
      expect_reply       = "XXXX 8X X0"
      min_reply_length   = 12
      max_reply_length   = 255
    }
  }
  real_server "192.0.2.12:53" {
    weight = 1
    health_check "udp" {
      interval           = "10s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
      port               = 5353
      require_reply      = true
      max_reply_length   = 512
    }
  }
  real_server "192.0.2.13:53" {
    weight = 1
    health_check "dns" {
      interval           = "10s"
      timeout            = "2s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "10s"
      type               = "A"
      name               = "www.example.com"
    }
  }
  real_server "192.0.2.14:53" {
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
}

# from testdata/golden/checktypes.conf:45
virtual_server "192.0.2.25:25" {
  address   = "192.0.2.25:25"
  protocol  = "tcp"
  scheduler = "wlc"
  method    = "nat"
  real_server "192.0.2.21:25" {
    weight = 1
    health_check "smtp" {
      interval           = "30s"
      timeout            = "10s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
    }
  }
  real_server "192.0.2.22:25" {
    weight = 1
    health_check "smtp" {
      interval           = "30s"
      timeout            = "10s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
      port               = 587
      helo_name          = "lb1.example.com"
    }
  }
  real_server "192.0.2.23:25" {
    weight = 1
    health_check "ping" {
      interval           = "30s"
      timeout            = "1s"
      rise               = 1
      fall               = 1
      retry              = 2
      delay_before_retry = "1s"
    }
  }
}
