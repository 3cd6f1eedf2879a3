# Converted by lvsd convert from testdata/samples/virtualhost.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/virtualhost.conf:5: notification_email { … }
#   testdata/samples/virtualhost.conf:8: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/virtualhost.conf:9: smtp_server 192.168.200.1
#   testdata/samples/virtualhost.conf:10: smtp_connect_timeout 30
#   testdata/samples/virtualhost.conf:11: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/virtualhost.conf:11 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/virtualhost.conf:14
virtual_server "192.168.200.100:80" {
  address     = "192.168.200.100:80"
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
  real_server "192.168.201.100:80" {
    weight = 1
    health_check "https" {
      interval           = "6s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "3s"
      host               = "www.firewall.loc"
      tls_skip_verify    = true
      url {
        path   = "/"
        digest = "ff20ad2481f97b1754ef3e12ecd3a9cc"
      }
      url {
        path   = "/mrtg/"
        digest = "9b3a0c85a887a256d6939da88aabd8cd"
      }
    }
  }
}
