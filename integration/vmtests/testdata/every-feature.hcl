# Every IPVS feature lvsd programs, for the VM lab: each scheduler the
# test kernel has (twos needs Linux 6.4), every method, TCP/UDP/SCTP,
# fwmark, persistence with a netmask, IPv6, thresholds and weights,
# scheduler flags, one-packet scheduling, every tunnel encapsulation and
# virtual_server_group members (ranges, fwmarks, IPv6).
# `lvsd plan` of this file must equal `ipvsadm -S -n` after lvsd programmed it.
cluster = "every"

node "d1" {
  priority = 100
}

virtual_server "s-rr" {
  address   = "192.0.2.10:8000"
  scheduler = "rr"
  method    = "dr"

  real_server "198.51.100.10:8000" {
    weight = 1
  }
  real_server "198.51.100.100:8000" {
    weight          = 0
    upper_threshold = 100
    lower_threshold = 10
  }
}

virtual_server "s-wrr" {
  address   = "192.0.2.11:8001"
  scheduler = "wrr"
  method    = "nat"

  real_server "198.51.100.11:9001" {
    weight = 2
  }
  real_server "198.51.100.101:9001" {
    weight          = 0
    upper_threshold = 101
    lower_threshold = 11
  }
}

virtual_server "s-lc" {
  address   = "192.0.2.12:8002"
  scheduler = "lc"
  method    = "tun"

  real_server "198.51.100.12:8002" {
    weight = 3
  }
  real_server "198.51.100.102:8002" {
    weight          = 0
    upper_threshold = 102
    lower_threshold = 12
  }
}

virtual_server "s-wlc" {
  address   = "192.0.2.13:8003"
  scheduler = "wlc"
  method    = "dr"

  real_server "198.51.100.13:8003" {
    weight = 4
  }
  real_server "198.51.100.103:8003" {
    weight          = 0
    upper_threshold = 103
    lower_threshold = 13
  }
}

virtual_server "s-lblc" {
  address   = "192.0.2.14:8004"
  scheduler = "lblc"
  method    = "nat"

  real_server "198.51.100.14:9004" {
    weight = 5
  }
  real_server "198.51.100.104:9004" {
    weight          = 0
    upper_threshold = 104
    lower_threshold = 14
  }
}

virtual_server "s-lblcr" {
  address   = "192.0.2.15:8005"
  scheduler = "lblcr"
  method    = "tun"

  real_server "198.51.100.15:8005" {
    weight = 6
  }
  real_server "198.51.100.105:8005" {
    weight          = 0
    upper_threshold = 105
    lower_threshold = 15
  }
}

virtual_server "s-dh" {
  address   = "192.0.2.16:8006"
  scheduler = "dh"
  method    = "dr"

  real_server "198.51.100.16:8006" {
    weight = 7
  }
  real_server "198.51.100.106:8006" {
    weight          = 0
    upper_threshold = 106
    lower_threshold = 16
  }
}

virtual_server "s-sh" {
  address   = "192.0.2.17:8007"
  scheduler = "sh"
  method    = "nat"

  real_server "198.51.100.17:9007" {
    weight = 8
  }
  real_server "198.51.100.107:9007" {
    weight          = 0
    upper_threshold = 107
    lower_threshold = 17
  }
}

virtual_server "s-sed" {
  address   = "192.0.2.18:8008"
  scheduler = "sed"
  method    = "tun"

  real_server "198.51.100.18:8008" {
    weight = 9
  }
  real_server "198.51.100.108:8008" {
    weight          = 0
    upper_threshold = 108
    lower_threshold = 18
  }
}

virtual_server "s-nq" {
  address   = "192.0.2.19:8009"
  scheduler = "nq"
  method    = "dr"

  real_server "198.51.100.19:8009" {
    weight = 10
  }
  real_server "198.51.100.109:8009" {
    weight          = 0
    upper_threshold = 109
    lower_threshold = 19
  }
}

virtual_server "s-mh" {
  address   = "192.0.2.20:8010"
  scheduler = "mh"
  method    = "nat"

  real_server "198.51.100.20:9010" {
    weight = 11
  }
  real_server "198.51.100.110:9010" {
    weight          = 0
    upper_threshold = 110
    lower_threshold = 20
  }
}

virtual_server "s-fo" {
  address   = "192.0.2.21:8011"
  scheduler = "fo"
  method    = "tun"

  real_server "198.51.100.21:8011" {
    weight = 12
  }
  real_server "198.51.100.111:8011" {
    weight          = 0
    upper_threshold = 111
    lower_threshold = 21
  }
}

virtual_server "s-ovf" {
  address   = "192.0.2.22:8012"
  scheduler = "ovf"
  method    = "dr"

  real_server "198.51.100.22:8012" {
    weight = 13
  }
  real_server "198.51.100.112:8012" {
    weight          = 0
    upper_threshold = 112
    lower_threshold = 22
  }
}

virtual_server "udp-dns" {
  address   = "192.0.2.53:53"
  protocol  = "udp"
  scheduler = "rr"
  method    = "nat"

  real_server "198.51.100.53:5353" {}
  real_server "198.51.100.54:53" {
    weight = 3
  }
}

virtual_server "sctp-diameter" {
  address   = "192.0.2.60:3868"
  protocol  = "sctp"
  scheduler = "wlc"
  method    = "dr"

  real_server "198.51.100.60:3868" {}
}

virtual_server "fw4" {
  fwmark              = 4
  scheduler           = "sh"
  method              = "dr"
  persistence         = "300s"
  persistence_netmask = "255.255.255.0"

  real_server "198.51.100.70" {}
  real_server "198.51.100.71" {
    weight = 5
  }
}

virtual_server "fw6" {
  fwmark              = 6
  scheduler           = "wlc"
  method              = "tun"
  persistence         = "60s"
  persistence_netmask = "64"

  real_server "2001:db8:1::70" {}
}

virtual_server "web6" {
  address     = "[2001:db8:100::1]:443"
  scheduler   = "wrr"
  method      = "nat"
  persistence = "1800s"

  real_server "[2001:db8:1::80]:8443" {
    weight = 2
  }
  real_server "[2001:db8:1::81]:8443" {
    weight          = 1
    upper_threshold = 500
  }
}

virtual_server "persist-all-ports" {
  address     = "192.0.2.80:0"
  scheduler   = "lc"
  method      = "dr"
  persistence = "120s"
  persistence_netmask = "255.255.0.0"

  real_server "198.51.100.80" {}
}

virtual_server "mh-flags" {
  address     = "192.0.2.90:80"
  scheduler   = "mh"
  sched_flags = ["mh-fallback", "mh-port"]
  method      = "dr"

  real_server "198.51.100.90:80" {}
}

virtual_server "sh-flags" {
  address     = "192.0.2.91:80"
  scheduler   = "sh"
  sched_flags = ["sh-port"]
  method      = "dr"

  real_server "198.51.100.91:80" {}
}

virtual_server "generic-flags" {
  address     = "192.0.2.92:80"
  scheduler   = "wrr"
  sched_flags = ["flag-1", "flag-3"]
  method      = "dr"

  real_server "198.51.100.92:80" {}
}

virtual_server "ops" {
  address     = "192.0.2.93:53"
  protocol    = "udp"
  scheduler   = "sh"
  sched_flags = ["sh-fallback"]
  method      = "nat"
  one_packet  = true

  real_server "198.51.100.93:53" {}
}

virtual_server "tunnels" {
  address         = "192.0.2.94:443"
  scheduler       = "wlc"
  method          = "tun"
  tunnel_type     = "gue"
  tunnel_port     = 6080

  real_server "198.51.100.94:443" {}
  real_server "198.51.100.95:443" {
    tunnel_checksum = "csum"
  }
  real_server "198.51.100.96:443" {
    tunnel_port     = 6081
    tunnel_checksum = "remcsum"
  }
  real_server "198.51.100.97:443" {
    tunnel_type = "gre"
  }
  real_server "198.51.100.98:443" {
    tunnel_type     = "gre"
    tunnel_checksum = "csum"
  }
  real_server "198.51.100.99:443" {
    tunnel_type = "ipip"
  }
}

virtual_server_group "vips" {
  addresses = ["192.0.2.100-102:80", "192.0.2.110:8080"]
  fwmarks   = [10]
}

virtual_server "group-dr" {
  group       = "vips"
  scheduler   = "rr"
  method      = "dr"
  persistence = "60s"

  real_server "198.51.100.120:80" {}
  real_server "198.51.100.121:80" {
    weight = 2
  }
}

# The same addresses in UDP: a group of its own, since an fwmark member
# is one IPVS service whatever the protocol.
virtual_server_group "vips-udp" {
  addresses = ["192.0.2.100-102:80"]
}

virtual_server "group-udp-nat" {
  group     = "vips-udp"
  protocol  = "udp"
  scheduler = "wlc"
  method    = "nat"

  real_server "198.51.100.122:5000" {}
}

virtual_server_group "vips6" {
  addresses = ["[2001:db8:100::10-12]:443"]
}

virtual_server "group-v6-tun" {
  group       = "vips6"
  scheduler   = "mh"
  sched_flags = ["mh-port"]
  method      = "tun"
  tunnel_type = "gre"

  real_server "2001:db8:1::120" {}
}
