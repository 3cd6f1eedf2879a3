# Every IPVS feature lvsd programs, for the VM lab: each scheduler the
# test kernel has (twos needs Linux 6.4), every method, TCP/UDP/SCTP,
# fwmark, persistence with a netmask, IPv6, thresholds and weights.
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
