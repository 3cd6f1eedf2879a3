# LVS-NAT: clients reach VIP 10.10.10.100 on the outside LAN (eth0); the
# real servers sit on the inside LAN (eth1) and use the inside virtual IP
# 10.20.20.254 as their default gateway, so their replies come back through
# whichever director is master. Both VIPs must move together, hence the
# sync group. The second server listens on 8080: NAT can map ports.
cluster = "shop"

node "director-a" {
  priority = 150
}

node "director-b" {
  priority = 100
}

vrrp_instance "VI_EXT" {
  interface        = "eth0"
  vrid             = 61
  advert_interval  = "1s"
  virtual_ips      = ["10.10.10.100/32"]
  track_interfaces = ["eth1"]
}

vrrp_instance "VI_INT" {
  interface        = "eth1"
  vrid             = 62
  advert_interval  = "1s"
  virtual_ips      = ["10.20.20.254/24"]
  track_interfaces = ["eth0"]
}

vrrp_sync_group "G1" {
  instances = ["VI_EXT", "VI_INT"]
}

virtual_server "shop" {
  address      = "10.10.10.100:80"
  scheduler    = "rr"
  method       = "nat"
  on_failure   = "quiescent"
  quorum       = 1
  sorry_server = "10.20.20.50:80"

  health_check "tcp" {
    interval = "2s"
    timeout  = "1s"
  }

  real_server "10.20.20.12:80" {
    weight = 1
  }

  real_server "10.20.20.13:8080" {
    weight = 1
  }
}

ipvs {
  timeouts {
    tcp     = "900s"
    tcp_fin = "120s"
    udp     = "300s"
  }

  # Connection sync: the backup's kernel learns the master's connections,
  # so established flows survive a failover.
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "VI_INT"
    sync_id       = 62
  }
}

status {
  socket = "/run/lvsd/shop.sock"
}
