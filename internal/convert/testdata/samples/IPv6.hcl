# Converted by lvsd convert from testdata/samples/IPv6.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/IPv6.conf:5: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/IPv6.conf:5 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/IPv6.conf:8
virtual_server_group "IPv6_group" {
  addresses = ["[ae00::2-9]:80", "[ae00::1]:80"]
}

# from testdata/samples/IPv6.conf:14
virtual_server "[ae00::1]:80" {
  address     = "[ae00::1]:80"
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
  real_server "[ae00::10]:25" {
    weight = 1
    health_check "smtp" {
      interval           = "6s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "1s"
      helo_name          = "foo.bar.com"
    }
  }
}
