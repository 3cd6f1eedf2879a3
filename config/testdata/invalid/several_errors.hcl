# want: 7:17: vrid must be between 1 and 255, got 0
# want: 12:15: unknown scheduler "x"
# want: 14:14: weight must be between 0 and 65535, got -2
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 0
  virtual_ips = ["10.0.0.1/32"]
}
virtual_server "web" {
  address   = "10.0.0.1:80"
  scheduler = "x"
  real_server "10.0.0.11" {
    weight = -2
  }
}
