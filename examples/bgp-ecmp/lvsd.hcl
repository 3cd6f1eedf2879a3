# Active-active directors over BGP and ECMP: three directors (lb1..lb3,
# 10.0.0.11-13) each hold the VIP 203.0.113.10 on lo, program the same
# Maglev table and announce 203.0.113.10/32 to the top-of-rack router
# 10.0.0.1 (AS 65000); the router spreads flows over the three by ECMP
# (bird.conf beside this file is a BIRD 2 router for a lab).
#
# mh with mh-port and mh-fallback, the same real servers in the same order
# everywhere, failed servers kept at weight 0 and net.ipv4.vs.sloppy_tcp=1
# (lvsd sets it) make every director send a flow to the same real server,
# so when a director is lost and ECMP moves its flows, the connections go
# on through another director without any connection sync.
#
# Real servers are DR servers holding the VIP on lo:
#   lvsd realserver up --vip 203.0.113.10 --method dr
cluster = "edge"

node "lb1" {
  router_id = "10.0.0.11"
}
node "lb2" {
  router_id = "10.0.0.12"
}
node "lb3" {
  router_id = "10.0.0.13"
}

bgp {
  asn        = 65010
  hold_time  = "9s"
  drain_wait = "5s"
  linger     = "10s"

  neighbor "tor1" {
    address = "10.0.0.1"
    asn     = 65000
  }
}

virtual_server "web" {
  address     = "203.0.113.10:80"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"

  health_check "http" {
    path     = "/healthz"
    interval = "2s"
    timeout  = "1s"
  }

  real_server "10.0.1.11" {}
  real_server "10.0.1.12" {}
  real_server "10.0.1.13" {}
}

virtual_server "web-tls" {
  address     = "203.0.113.10:443"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"

  health_check "tcp" {
    interval = "2s"
    timeout  = "1s"
  }

  real_server "10.0.1.11" {}
  real_server "10.0.1.12" {}
  real_server "10.0.1.13" {}
}
