# want: 7:13: virtual_server "web2" is the same IPVS service as "web"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
}
virtual_server "web2" {
  address = "10.0.0.1:80"
  scheduler = "rr"
}
