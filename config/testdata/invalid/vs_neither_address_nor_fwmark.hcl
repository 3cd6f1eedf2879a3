# want: 3:16: needs address or fwmark
cluster = "c"
virtual_server "web" {
  scheduler = "rr"
}
