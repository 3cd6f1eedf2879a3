# want: 7:17: announce = "bgp" needs a bgp block
cluster = "c"
virtual_server "web" {
  address     = "203.0.113.10:80"
  scheduler   = "mh"
  sched_flags = ["mh-port", "mh-fallback"]
  announce    = "bgp"
  real_server "198.51.100.2" {}
}
