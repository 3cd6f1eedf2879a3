# want: 5:3: unsupported attribute "intrface" in a vrrp_instance block; did you mean "interface"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  intrface   = "eth1"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
