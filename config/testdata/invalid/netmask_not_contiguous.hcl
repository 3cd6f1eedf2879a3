# want: 6:25: persistence_netmask "255.0.255.0" is not a contiguous mask
cluster = "c"
virtual_server "web" {
  address     = "10.0.0.1:80"
  persistence = "300s"
  persistence_netmask = "255.0.255.0"
}
