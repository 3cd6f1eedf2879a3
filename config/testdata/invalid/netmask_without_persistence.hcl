# want: 5:3: persistence_netmask needs persistence > 0
cluster = "c"
virtual_server "web" {
  address     = "10.0.0.1:80"
  persistence_netmask = "255.255.255.0"
}
