# want: 9:11: virtual_server "edge/10.0.0.2:80" is the same IPVS service as "web"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.2:80"
  real_server "10.0.0.11" {}
}
virtual_server_group "edge" { addresses = ["10.0.0.1-2:80"] }
virtual_server "edge" {
  group = "edge"
  real_server "10.0.0.11" {}
}
