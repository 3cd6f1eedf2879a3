# Converted by lvsd convert from testdata/oracle/ipvs.conf (node "lb1").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/oracle/ipvs.conf:4: router_id lb1
#   testdata/oracle/ipvs.conf:29: alpha
#   testdata/oracle/ipvs.conf:30: ha_suspend

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/oracle/ipvs.conf:4 (router_id)
node "lb1" {
  priority = 100
}

# from testdata/oracle/ipvs.conf:9
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["192.0.2.100/32"]
}

# from testdata/oracle/ipvs.conf:19
virtual_server "192.0.2.100:80" {
  address             = "192.0.2.100:80"
  protocol            = "tcp"
  scheduler           = "wrr"
  method              = "dr"
  persistence         = "360s"
  persistence_netmask = "255.255.255.0"
  on_failure          = "quiescent"
  quorum              = 2
  sorry_server        = "192.0.2.50:80"
  real_server "192.0.2.12:80" {
    weight          = 1
    upper_threshold = 100
    lower_threshold = 10
    health_check "tcp" {
      interval           = "6s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 2
      delay_before_retry = "6s"
      port               = 8080
    }
  }
  real_server "192.0.2.13:80" {
    weight = 1
    health_check "http" {
      interval           = "6s"
      timeout            = "2s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "3s"
      path               = "/healthz"
      expect_status      = [200, 204]
      host               = "www.example.com"
    }
  }
}

# from testdata/oracle/ipvs.conf:59
virtual_server "192.0.2.100:443" {
  address     = "192.0.2.100:443"
  protocol    = "tcp"
  scheduler   = "sh"
  method      = "nat"
  persistence = "600s"
  real_server "10.0.0.12:8443" {
    weight = 3
    health_check "https" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 4
      delay_before_retry = "3s"
      path               = "/"
      tls_skip_verify    = true
    }
  }
  real_server "10.0.0.13:443" {
    weight = 1
    health_check "tcp" {
      interval           = "10s"
      timeout            = "4s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
    }
  }
}

# from testdata/oracle/ipvs.conf:84
virtual_server "192.0.2.100:53/udp" {
  address   = "192.0.2.100:53"
  protocol  = "udp"
  scheduler = "rr"
  method    = "tun"
  real_server "192.0.2.12:53" {
    weight = 1
  }
  real_server "192.0.2.13:53" {
    weight = 2
  }
}

# from testdata/oracle/ipvs.conf:96
virtual_server "fwmark 7" {
  fwmark      = 7
  scheduler   = "lc"
  method      = "dr"
  persistence = "30s"
  health_check "tcp" {
    interval           = "5s"
    timeout            = "2s"
    rise               = 1
    fall               = 1
    retry              = 1
    delay_before_retry = "1s"
    port               = 80
  }
  real_server "192.0.2.12" {
    weight = 1
  }
  real_server "192.0.2.13" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:117
virtual_server "[2001:db8::100]:80/udp" {
  address   = "[2001:db8::100]:80"
  protocol  = "udp"
  scheduler = "mh"
  method    = "nat"
  real_server "[2001:db8::12]:80" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:125
virtual_server "192.0.2.100:0" {
  address     = "192.0.2.100:0"
  protocol    = "tcp"
  scheduler   = "wlc"
  method      = "dr"
  persistence = "360s"
  real_server "192.0.2.12" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:133
virtual_server "192.0.2.101:80" {
  address      = "192.0.2.101:80"
  protocol     = "tcp"
  scheduler    = "rr"
  method       = "nat"
  quorum       = 2
  sorry_server = "10.0.0.50:8080"
  real_server "10.0.0.12:80" {
    weight = 1
  }
  real_server "10.0.0.13:80" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:146
virtual_server "192.0.2.102:9000/sctp" {
  address   = "192.0.2.102:9000"
  protocol  = "sctp"
  scheduler = "lblc"
  method    = "dr"
  real_server "192.0.2.12:9000" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:153
virtual_server "192.0.2.102:9001" {
  address   = "192.0.2.102:9001"
  protocol  = "tcp"
  scheduler = "lblcr"
  method    = "dr"
  real_server "192.0.2.12:9001" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:160
virtual_server "192.0.2.102:9002" {
  address   = "192.0.2.102:9002"
  protocol  = "tcp"
  scheduler = "dh"
  method    = "dr"
  real_server "192.0.2.12:9002" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:167
virtual_server "192.0.2.102:9003" {
  address   = "192.0.2.102:9003"
  protocol  = "tcp"
  scheduler = "sed"
  method    = "dr"
  real_server "192.0.2.12:9003" {
    weight = 0
  }
}

# from testdata/oracle/ipvs.conf:175
virtual_server "192.0.2.102:9004" {
  address   = "192.0.2.102:9004"
  protocol  = "tcp"
  scheduler = "nq"
  method    = "dr"
  real_server "192.0.2.12:9004" {
    weight = 65535
  }
}

# from testdata/oracle/ipvs.conf:183
virtual_server "192.0.2.102:9005" {
  address   = "192.0.2.102:9005"
  protocol  = "tcp"
  scheduler = "fo"
  method    = "dr"
  real_server "192.0.2.12:9005" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:190
virtual_server "192.0.2.102:9006" {
  address   = "192.0.2.102:9006"
  protocol  = "tcp"
  scheduler = "ovf"
  method    = "dr"
  real_server "192.0.2.12:9006" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:197
virtual_server "192.0.2.102:9007" {
  address   = "192.0.2.102:9007"
  protocol  = "tcp"
  scheduler = "wlc"
  method    = "dr"
  real_server "192.0.2.12:9007" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:206
virtual_server "fwmark 8" {
  fwmark    = 8
  scheduler = "rr"
  method    = "dr"
  real_server "2001:db8::12" {
    weight = 1
  }
}

# from testdata/oracle/ipvs.conf:5
ipvs {
  timeouts {
    tcp     = "900s"
    tcp_fin = "120s"
    udp     = "300s"
  }
}
