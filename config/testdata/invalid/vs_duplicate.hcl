# want: 6:16: duplicate virtual_server "web"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
}
virtual_server "web" {
  address = "10.0.0.1:443"
}
