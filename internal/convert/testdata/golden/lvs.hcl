# Converted by lvsd convert from testdata/golden/lvs.conf (node "lvs").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/lvs.conf:26: alpha
#   testdata/golden/lvs.conf:27: ha_suspend

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/lvs.conf
node "lvs" {
  priority = 100
}

# from testdata/golden/lvs.conf:8
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["192.0.2.100/32"]
}

# from testdata/golden/lvs.conf:16
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

# from testdata/golden/lvs.conf:54
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
    health_check "exec" {
      interval = "10s"
      timeout  = "4s"
      rise     = 1
      fall     = 1
      command  = ["/usr/local/bin/check", "10.0.0.13", "443"]
    }
  }
}

# from testdata/golden/lvs.conf:78
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

# from testdata/golden/lvs.conf:89
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

# from testdata/golden/lvs.conf:109
virtual_server "[2001:db8::100]:80/udp" {
  address   = "[2001:db8::100]:80"
  protocol  = "udp"
  scheduler = "mh"
  method    = "nat"
  real_server "[2001:db8::12]:80" {
    weight = 1
  }
}

# from testdata/golden/lvs.conf:116
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

# from testdata/golden/lvs.conf:3
ipvs {
  timeouts {
    tcp     = "900s"
    tcp_fin = "120s"
    udp     = "300s"
  }
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "VI_1"
    sync_id       = 5
  }
}
