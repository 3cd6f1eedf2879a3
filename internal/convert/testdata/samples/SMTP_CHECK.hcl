# Converted by lvsd convert from testdata/samples/SMTP_CHECK.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/SMTP_CHECK.conf:17: notification_email { … }
#   testdata/samples/SMTP_CHECK.conf:20: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/SMTP_CHECK.conf:21: smtp_server 192.168.200.1
#   testdata/samples/SMTP_CHECK.conf:22: smtp_connect_timeout 30
#   testdata/samples/SMTP_CHECK.conf:23: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/SMTP_CHECK.conf:23 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/SMTP_CHECK.conf:26
virtual_server "192.168.200.100:25" {
  address   = "192.168.200.100:25"
  protocol  = "tcp"
  scheduler = "rr"
  method    = "nat"
  real_server "172.16.1.10:25" {
    weight = 1
    health_check "smtp" {
      interval           = "60s"
      timeout            = "30s"
      rise               = 1
      fall               = 1
      retry              = 2
      delay_before_retry = "5s"
      helo_name          = "foo.bar.com"
    }
  }
  real_server "172.16.1.11:25" {
    weight = 1
    health_check "smtp" {
      interval           = "60s"
      timeout            = "10s"
      rise               = 1
      fall               = 1
      retry              = 2
      delay_before_retry = "5s"
      helo_name          = "foo.bar.com"
    }
  }
  real_server "172.16.1.12:25" {
    weight = 1
    health_check "smtp" {
      interval           = "60s"
      timeout            = "10s"
      rise               = 1
      fall               = 1
      retry              = 2
      delay_before_retry = "5s"
      helo_name          = "foo.bar.com"
    }
  }
}
