# Converted by lvsd convert from testdata/samples/misc_check_arg.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/misc_check_arg.conf:5: notification_email { … }
#   testdata/samples/misc_check_arg.conf:8: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/misc_check_arg.conf:9: smtp_server 192.168.200.1
#   testdata/samples/misc_check_arg.conf:10: smtp_connect_timeout 30
#   testdata/samples/misc_check_arg.conf:11: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/misc_check_arg.conf:11 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/misc_check_arg.conf:14
virtual_server "10.10.10.2:1358" {
  address     = "10.10.10.2:1358"
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
  real_server "192.168.200.6:1358" {
    weight = 1
    health_check "exec" {
      interval = "6s"
      timeout  = "6s"
      rise     = 1
      fall     = 1
      command  = ["/usr/local/bin/script.sh", "arg1", "arg2"]
    }
  }
}
