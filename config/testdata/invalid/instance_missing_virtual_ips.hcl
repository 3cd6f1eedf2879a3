# want: 3:15: missing required attribute "virtual_ips"
cluster = "c"
vrrp_instance "VI_1" {
  interface   = "eth0"
  vrid        = 51
}
