# want: 4:13: invalid address "10.0.0.1" (want ADDR:PORT
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1"
}
