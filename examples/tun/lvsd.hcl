# LVS-TUN: the directors encapsulate each request in IP-in-IP to real
# servers that may sit in another network; the real servers decapsulate on
# a tunl0 device that holds the VIP and answer clients directly:
#   lvsd realserver up --vip 10.10.10.100 --method tun
cluster = "media"

node "director-a" {
  priority = 150
}

node "director-b" {
  priority = 100
}

vrrp_instance "VI_1" {
  interface       = "eth0"
  vrid            = 71
  advert_interval = "1s"
  virtual_ips     = ["10.10.10.100/32"]
}

virtual_server "http" {
  address     = "10.10.10.100:80"
  scheduler   = "lblc"
  method      = "tun"
  persistence = "300s"

  health_check "http" {
    path          = "/healthz"
    expect_status = [200, 204]
    interval      = "3s"
    timeout       = "1s"
  }

  real_server "10.30.30.12:80" {
    weight = 2
  }

  real_server "10.30.30.13:80" {
    weight = 1
  }
}

# UDP streaming control on the same VIP, checked with a script.
virtual_server "rtsp-udp" {
  address   = "10.10.10.100:5004"
  protocol  = "udp"
  scheduler = "sh"
  method    = "tun"

  health_check "exec" {
    command  = ["/usr/local/bin/check-rtp", "{{ip}}", "{{port}}"]
    interval = "5s"
    timeout  = "2s"
  }

  real_server "10.30.30.12:5004" {}
  real_server "10.30.30.13:5004" {}
}
