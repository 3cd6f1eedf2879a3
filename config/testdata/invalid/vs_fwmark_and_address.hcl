# want: 5:3: sets both address and fwmark
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  fwmark  = 1
}
