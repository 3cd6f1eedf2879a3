# Converted by lvsd convert from testdata/golden/checks.conf (node "checks").

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/checks.conf
node "checks" {
}

# from testdata/golden/checks.conf:3
virtual_server "192.0.2.100:80" {
  address   = "192.0.2.100:80"
  protocol  = "tcp"
  scheduler = "rr"
  method    = "dr"
  real_server "192.0.2.12:80" {
    weight = 2
    health_check "tcp" {
      interval           = "10s"
      timeout            = "2s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "2s"
      connect_ip         = "198.51.100.12"
      bind_to            = "192.0.2.1"
      port               = 8080
    }
  }
  real_server "192.0.2.13:80" {
    weight = 3
    health_check "http" {
      interval           = "10s"
      timeout            = "4s"
      rise               = 1
      fall               = 1
      retry              = 2
      delay_before_retry = "1s"
      host               = "www.example.com"
      url {
        path          = "/healthz"
        expect_status = [200]
        digest        = "9a0364b9e99bb480dd25e1f0284c8555"
      }
      url {
        path          = "/ready"
        expect_status = [200, 503]
      }
    }
  }
  real_server "192.0.2.14:80" {
    weight = 1
    health_check "https" {
      interval        = "10s"
      timeout         = "5s"
      rise            = 1
      fall            = 1
      tls_skip_verify = true
      url {
        path   = "/"
        digest = "ff20ad2481f97b1754ef3e12ecd3a9cc"
      }
    }
  }
  real_server "192.0.2.15:80" {
    weight = 10
    health_check "exec" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "2s"
      command            = ["/usr/sbin/runuser", "-u", "nobody", "-g", "nogroup", "--", "/usr/local/bin/weigh", "192.0.2.15"]
      dynamic_weight     = true
    }
  }
  real_server "192.0.2.16:80" {
    weight = 1
    health_check "exec" {
      interval           = "10s"
      timeout            = "5s"
      rise               = 1
      fall               = 1
      retry              = 2
      delay_before_retry = "2s"
      command            = ["/usr/local/bin/check"]
    }
  }
}

# from testdata/golden/checks.conf:66
virtual_server "[2001:db8::100]:443" {
  address   = "[2001:db8::100]:443"
  protocol  = "tcp"
  scheduler = "wlc"
  method    = "nat"
  real_server "[2001:db8::12]:8443" {
    weight = 1
    health_check "http" {
      interval           = "5s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 1
      delay_before_retry = "3s"
      connect_ip         = "2001:db8:1::12"
      bind_to            = "2001:db8::1"
      path               = "/"
    }
  }
}
