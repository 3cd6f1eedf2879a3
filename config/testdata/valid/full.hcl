# Every block and attribute of the language, with values that are not the defaults.
cluster = "web"
# A glob may match nothing.
include = ["full.d/*.hcl"]

node "director-a" {
  priority  = 150
  router_id = "10.10.10.11"
}
node "director-b" {
  priority  = 100
  router_id = "10.10.10.12"
}

vrrp_instance "VI_EXT" {
  interface        = "eth0"
  vrid             = 51
  version          = 3
  advert_interval  = "100ms"
  preempt          = false
  preempt_delay    = "30s"
  priorities       = { "director-b" = 200 }
  unicast_peers    = ["10.10.10.11", "10.10.10.12"]
  virtual_ips      = ["10.10.10.100/32", "10.10.10.101"]
  track_interfaces = ["eth1"]
  track_interface "eth2" {
    weight = -10
  }
  track_script "chk_proxy" {
    weight = -20
  }
  track_script "chk_disk" {}
  track_file "maint" {
    weight = -5
  }
  accept           = false
  handover         = "relay"

  garp {
    repeat   = 3
    interval = "10ms"
    delay    = "2s"
    refresh  = "60s"
  }

  notify {
    master = ["/usr/local/bin/lvs-notify", "master"]
    backup = ["/usr/local/bin/lvs-notify", "backup"]
    fault  = ["/usr/local/bin/lvs-notify", "fault"]
    stop   = []
    command = ["/usr/local/bin/lvs-notify-all"]
  }
}

vrrp_instance "VI_INT" {
  interface   = "eth1"
  vrid        = 52
  version     = 2
  auth_pass   = "secret"
  advert_interval = "2s"
  virtual_ips = ["192.168.1.1/24"]
}

vrrp_instance "VI_V6" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["2001:db8::100/64"]
}

vrrp_sync_group "G1" {
  instances = ["VI_EXT", "VI_INT"]
  notify {
    master  = ["/usr/local/bin/group-notify", "master"]
    backup  = ["/usr/local/bin/group-notify", "backup"]
    fault   = ["/usr/local/bin/group-notify", "fault"]
    stop    = ["/usr/local/bin/group-notify", "stop"]
    command = ["/usr/local/bin/group-notify-all"]
  }
}

track_script "chk_proxy" {
  command  = ["/usr/bin/pgrep", "-x", "haproxy"]
  interval = "2s"
  timeout  = "1s"
  rise     = 2
  fall     = 3
  weight   = 10
}

track_script "chk_disk" {
  command = ["/usr/local/bin/chk-disk"]
}

track_file "maint" {
  path   = "/run/lvsd/maint"
  weight = 2
}

virtual_server "web" {
  address      = "10.10.10.100:80"
  protocol     = "tcp"
  scheduler    = "wrr"
  method       = "nat"
  persistence  = "300s"
  persistence_netmask = "255.255.255.0"
  on_failure   = "quiescent"
  quorum       = 2
  sorry_server = "10.10.10.50"
  quorum_up    = ["/usr/local/bin/quorum", "up"]
  quorum_down  = ["/usr/local/bin/quorum", "down"]

  health_check "http" {
    path          = "/healthz"
    host          = "www.example.com"
    expect_status = [200, 204]
    body_contains = "ok"
    port          = 8080
    interval      = "2s"
    timeout       = "1s"
    rise          = 1
    fall          = 2
  }

  real_server "10.10.10.12:8080" {
    weight          = 3
    upper_threshold = 100
    lower_threshold = 50
    notify_up       = ["/usr/local/bin/rs", "up"]
    notify_down     = ["/usr/local/bin/rs", "down"]
  }
  real_server "10.10.10.13" {
    weight = 0
    health_check "https" {
      tls_skip_verify    = true
      connect_ip         = "10.10.20.13"
      bind_to            = "10.10.10.2"
      retry              = 2
      delay_before_retry = "500ms"
      url {
        path          = "/healthz"
        expect_status = [200]
        digest        = "9A0364B9E99BB480DD25E1F0284C8555"
      }
      url {
        path          = "/ready"
        body_contains = "ready"
      }
    }
  }
  real_server "10.10.10.14:80" {
    health_check "exec" {
      command        = ["/usr/local/bin/check", "{{ip}}", "{{port}}"]
      dynamic_weight = true
    }
  }
}

virtual_server "dns6" {
  fwmark    = 7
  protocol  = "udp"
  scheduler = "rr"
  sched_flags = ["flag-2"]
  one_packet  = true
  persistence = "60s"
  persistence_netmask = "/64"

  real_server "[2001:db8::12]:53" {
    health_check "tcp" {}
  }
  real_server "2001:db8::13" {}
  real_server "[2001:db8::14]:53" {
    health_check "dns" {
      type          = "aaaa"
      name          = "www.example.com"
      expect_answer = ["2001:DB8::80"]
    }
  }
  real_server "[2001:db8::15]:53" {
    health_check "udp" {
      port             = 5353
      payload          = "0102 0304"
      require_reply    = true
      expect_reply     = "01 0X"
      min_reply_length = 2
      max_reply_length = 512
    }
  }
  real_server "[2001:db8::16]:53" {
    health_check "ping" {}
  }
}

virtual_server "mail" {
  address = "10.10.10.101:25"
  health_check "smtp" {
    helo_name = "lb1.example.com"
  }
  real_server "10.10.10.15" {}
}

virtual_server_group "edge" {
  addresses = ["10.10.10.110-111:443"]
  fwmarks   = [9]
}

virtual_server "edge" {
  group           = "edge"
  scheduler       = "mh"
  sched_flags     = ["mh-port", "mh-fallback"]
  method          = "tun"
  tunnel_type     = "gue"
  tunnel_port     = 6080
  tunnel_checksum = "csum"

  real_server "10.10.10.21:443" {}
  real_server "10.10.10.22:443" {
    tunnel_type     = "gre"
    tunnel_checksum = "csum"
  }
  real_server "10.10.10.23:443" {
    tunnel_port     = 6081
    tunnel_checksum = "remcsum"
  }
}

ipvs {
  timeouts {
    tcp     = "900s"
    tcp_fin = "120s"
    udp     = "300s"
  }
  expire_nodest_conn        = false
  expire_quiescent_template = false
  conn_reuse_mode           = 2
  reconcile_interval        = "30s"
  cleanup_on_exit           = false
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "VI_INT"
    sync_id       = 9
    maxlen        = 1400
    port          = 8849
    ttl           = 2
    mcast_group   = "239.0.0.81"
  }
}

status {
  socket         = "/run/lvsd/web.sock"
  metrics_listen = ""
}

virtual_server "maglev" {
  address     = "10.10.10.120:443"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  on_failure  = "quiescent"
  announce    = "bgp"

  real_server "10.10.10.12" {}
  real_server "10.10.10.13" {}
}

bgp {
  asn           = 65010
  router_id     = "auto"
  hold_time     = "9s"
  listen_port   = 1179
  med           = 20
  communities   = ["65010:100"]
  withdraw_when = "all_services_down"
  drain_wait    = "2s"
  linger        = "3s"

  neighbor "tor1" {
    address  = "10.10.10.1"
    asn      = 65000
    port     = 1179
    bfd      = true
    multihop = 2
    password = "s3cret"
  }
}
