# want: 5:13: unknown method "masq"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  method  = "masq"
}
