# want: 7:31: element 2 of track_interfaces must be a string, got a number
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
  track_interfaces = ["eth1", 2]
}
