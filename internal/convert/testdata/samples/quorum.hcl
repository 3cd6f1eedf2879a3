# Converted by lvsd convert from testdata/samples/quorum.conf (node "quorum").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/quorum.conf:30: alpha
#   testdata/samples/quorum.conf:31: omega

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/quorum.conf
node "quorum" {
}

# from testdata/samples/quorum.conf:24
virtual_server "10.0.1.1:80" {
  address     = "10.0.1.1:80"
  quorum_up   = ["/usr/local/sbin/quorum-up.sh"]
  quorum_down = ["/usr/local/sbin/quorum-down.sh"]
  protocol    = "tcp"
  scheduler   = "wrr"
  method      = "nat"
  persistence = "900s"
  quorum      = 7
  health_check "tcp" {
    interval           = "6s"
    timeout            = "3s"
    rise               = 1
    fall               = 1
    retry              = 1
    delay_before_retry = "1s"
    port               = 80
  }
  real_server "10.0.0.1:8080" {
    weight = 1
  }
  real_server "10.0.0.2:8080" {
    weight = 1
  }
  real_server "10.0.0.3:8080" {
    weight = 1
  }
  real_server "10.0.0.4:8080" {
    weight = 1
  }
  real_server "10.0.0.5:8080" {
    weight = 1
  }
  real_server "10.0.0.6:8080" {
    weight = 1
  }
  real_server "10.0.0.7:8080" {
    weight = 1
  }
  real_server "10.0.0.8:8080" {
    weight = 1
  }
  real_server "10.0.0.9:8080" {
    weight = 1
  }
  real_server "10.0.0.10:8080" {
    weight = 1
  }
}
