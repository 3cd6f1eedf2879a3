# Converted by lvsd convert from testdata/samples/HTTP_GET.port.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/HTTP_GET.port.conf:5: notification_email { … }
#   testdata/samples/HTTP_GET.port.conf:8: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/HTTP_GET.port.conf:9: smtp_server 192.168.200.1
#   testdata/samples/HTTP_GET.port.conf:10: smtp_connect_timeout 30
#   testdata/samples/HTTP_GET.port.conf:11: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/HTTP_GET.port.conf:11 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/HTTP_GET.port.conf:14
virtual_server "192.168.200.100:443" {
  address     = "192.168.200.100:443"
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
  real_server "192.168.201.100:443" {
    weight = 1
    health_check "https" {
      interval           = "6s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "3s"
      port               = 444
      tls_skip_verify    = true
      url {
        path   = "/"
        digest = "ff20ad2481f97b1754ef3e12ecd3a9cc"
      }
    }
  }
}
