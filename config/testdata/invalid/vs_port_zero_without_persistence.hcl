# want: 4:13: port 0 (all ports) needs persistence > 0
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:0"
}
