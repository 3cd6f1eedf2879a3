# IPv6: VRRPv3 over IPv6 (adverts to ff02::12 from the link-local address)
# holding 2001:db8:10::100 in front of two DR real servers; the new master
# announces the VIP with unsolicited neighbour advertisements.
cluster = "web6"

node "director-a" {
  priority = 150
}

node "director-b" {
  priority = 100
}

vrrp_instance "VI_6" {
  interface       = "eth0"
  vrid            = 81
  version         = 3
  advert_interval = "100ms"
  virtual_ips     = ["2001:db8:10::100/128"]
}

virtual_server "web6" {
  address   = "[2001:db8:10::100]:80"
  scheduler = "wrr"
  method    = "dr"

  health_check "tcp" {
    interval = "1s"
    timeout  = "500ms"
  }

  real_server "[2001:db8:10::12]:80" {
    weight = 2
  }

  real_server "[2001:db8:10::13]:80" {
    weight = 1
  }
}
