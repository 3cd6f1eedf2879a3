# want: 9:16: virtual_server "web/10.0.0.1:80" is also the name of a member of virtual_server_group "edge"
cluster = "c"
virtual_server_group "edge" { addresses = ["10.0.0.1:80"] }
virtual_server "web" {
  group    = "edge"
  protocol = "udp"
  real_server "10.0.0.11" {}
}
virtual_server "web/10.0.0.1:80" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {}
}
