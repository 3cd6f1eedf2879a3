cluster = "small"

vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 1
  virtual_ips = ["10.0.0.1/24"]
}

virtual_server "web" {
  address = "10.0.0.1:443"
  health_check "tcp" {}
  real_server "10.0.0.11" {}
  real_server "10.0.0.12:443" {}
}
