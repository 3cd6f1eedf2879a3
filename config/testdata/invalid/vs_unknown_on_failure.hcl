# want: 5:16: unknown on_failure "drain"
cluster = "c"
virtual_server "web" {
  address    = "10.0.0.1:80"
  on_failure = "drain"
}
