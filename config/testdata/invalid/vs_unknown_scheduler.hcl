# want: 5:15: unknown scheduler "fastest" (want one of rr, wrr
cluster = "c"
virtual_server "web" {
  address   = "10.0.0.1:80"
  scheduler = "fastest"
}
