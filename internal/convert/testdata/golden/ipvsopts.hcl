# Converted by lvsd convert from testdata/golden/ipvsopts.conf (node "ipvsopts").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/golden/ipvsopts.conf:33: hashed

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/golden/ipvsopts.conf
node "ipvsopts" {
  priority = 100
}

# from testdata/golden/ipvsopts.conf:8
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  version     = 2
  virtual_ips = ["192.0.2.100/32"]
}

# from testdata/golden/ipvsopts.conf:16
virtual_server_group "WEB" {
  addresses = ["192.0.2.100:80", "192.0.2.101-102:80", "192.0.2.104-192.0.2.105:80"]
  fwmarks   = [7]
}

# from testdata/golden/ipvsopts.conf:23
virtual_server_group "DNS6" {
  addresses = ["[2001:db8::53-55]:53"]
  fwmarks   = [9]
}

# from testdata/golden/ipvsopts.conf:28
virtual_server "WEB" {
  group       = "WEB"
  protocol    = "tcp"
  scheduler   = "mh"
  sched_flags = ["mh-fallback", "mh-port"]
  method      = "dr"
  persistence = "300s"
  health_check "tcp" {
    interval           = "10s"
    timeout            = "3s"
    rise               = 1
    fall               = 1
    retry              = 1
    delay_before_retry = "1s"
  }
  real_server "198.51.100.10:8080" {
    weight = 2
  }
  real_server "198.51.100.11:8080" {
    weight = 1
  }
}

# from testdata/golden/ipvsopts.conf:52
virtual_server "DNS6/udp" {
  group       = "DNS6"
  protocol    = "udp"
  scheduler   = "sh"
  sched_flags = ["sh-port"]
  one_packet  = true
  method      = "nat"
  real_server "[2001:db8:1::10]:5353" {
    weight = 1
  }
}

# from testdata/golden/ipvsopts.conf:64
virtual_server "192.0.2.110:443" {
  address         = "192.0.2.110:443"
  protocol        = "tcp"
  scheduler       = "wrr"
  sched_flags     = ["flag-1", "flag-3"]
  method          = "tun"
  tunnel_type     = "gue"
  tunnel_port     = 6080
  tunnel_checksum = "csum"
  real_server "198.51.100.20:443" {
    weight = 1
  }
  real_server "198.51.100.21:443" {
    weight          = 1
    tunnel_type     = "gre"
    tunnel_checksum = "csum"
  }
  real_server "198.51.100.22:443" {
    weight      = 1
    tunnel_type = "ipip"
  }
}

# from testdata/golden/ipvsopts.conf:81
virtual_server "fwmark 3" {
  fwmark     = 3
  scheduler  = "rr"
  protocol   = "udp"
  one_packet = true
  method     = "dr"
  real_server "198.51.100.30" {
    weight = 1
  }
}

# from testdata/golden/ipvsopts.conf:5
ipvs {
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "VI_1"
    sync_id       = 5
    maxlen        = 1400
    port          = 8849
    ttl           = 2
    mcast_group   = "239.0.0.81"
  }
}
