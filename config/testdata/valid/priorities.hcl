cluster = "prio"

node "a" {
  priority = 255
}
node "b" {}
node "c" {
  priority = 50
}

# a keeps 255 by node default; b overrides to 120; c has 50.
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 1
  priorities  = { b = 120 }
  virtual_ips = ["10.0.0.1/32"]
}

# Override a down so b's 255 is the only owner.
vrrp_instance "VI_2" {
  interface   = "eth0"
  vrid        = 2
  priorities  = { "a" = 10, "b" = 255 }
  virtual_ips = ["10.0.0.2/32"]
}

virtual_server "quiet" {
  address    = "10.0.0.1:80"
  on_failure = "quiescent"
  real_server "10.0.0.11:80" {}
}
