# want: 6:21: advert_interval must be a duration string such as "1s", got a number
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
  advert_interval = 1
  virtual_ips = ["10.0.0.1/32"]
}
