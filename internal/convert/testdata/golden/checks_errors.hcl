# Converted by lvsd convert from testdata/golden/checks_errors.conf (node "checks_errors").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/checks_errors.conf
node "checks_errors" {
}

# from testdata/golden/checks_errors.conf:2
virtual_server "192.0.2.100:80" {
  address   = "192.0.2.100:80"
  protocol  = "tcp"
  scheduler = "wlc"
  method    = "dr"
  real_server "192.0.2.12:80" {
    weight = 1
    health_check "tcp" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 100
      delay_before_retry = "1s"
      connect_ip         = "198.51.100.12"
    }
  }
  real_server "192.0.2.13:80" {
    weight = 1
    health_check "http" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "3s"
      path               = "/a"
    }
  }
  real_server "192.0.2.14:80" {
    weight = 1
    health_check "http" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "3s"
      host               = "a.example.com"
      url {
        path = "/a"
      }
      url {
        path = "/b"
      }
    }
  }
  real_server "192.0.2.15:80" {
    weight = 1
    health_check "tcp" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "1s"
    }
  }
}
