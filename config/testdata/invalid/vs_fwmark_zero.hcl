# want: 4:12: fwmark must be between 1 and 4294967295, got 0
cluster = "c"
virtual_server "web" {
  fwmark = 0
}
