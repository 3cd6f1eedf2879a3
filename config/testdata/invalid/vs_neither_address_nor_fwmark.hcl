# want: 3:16: needs address, fwmark or group
cluster = "c"
virtual_server "web" {
  scheduler = "rr"
}
