# want: 5:17: persistence must be whole seconds, got 1.5s
cluster = "c"
virtual_server "web" {
  address     = "10.0.0.1:80"
  persistence = "1.5s"
}
