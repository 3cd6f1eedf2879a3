# LVS-DR, the classic lab: two directors (10.10.10.11 "director-a" and
# 10.10.10.14 "director-b") share the virtual IP 10.10.10.100 in front of
# two web servers, 10.10.10.12 and 10.10.10.13, all on one LAN (eth0).
#
# IPVS only rewrites the destination MAC, so each real server must own the
# VIP on lo without answering ARP for it:
#   lvsd realserver up --vip 10.10.10.100 --method dr
cluster = "web"

node "director-a" {
  priority = 150
}

node "director-b" {
  priority = 100
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 51
  advert_interval = "1s"
  virtual_ips     = ["10.10.10.100/32"]

  garp {
    repeat = 5
    delay  = "5s"
  }
}

virtual_server "web" {
  address   = "10.10.10.100:80"
  protocol  = "tcp"
  scheduler = "wlc"
  method    = "dr"

  health_check "http" {
    path     = "/"
    interval = "2s"
    timeout  = "1s"
    rise     = 2
    fall     = 2
  }

  real_server "10.10.10.12:80" {
    weight = 1
  }

  real_server "10.10.10.13:80" {
    weight = 1
  }
}

status {
  socket = "/run/lvsd/web.sock"
}
