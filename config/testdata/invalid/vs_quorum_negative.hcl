# want: 5:13: quorum must be between 0 and 65535, got -1
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  quorum  = -1
}
