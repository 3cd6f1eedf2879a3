# want: 4:13: invalid address "[2001:db8::1:80"
cluster = "c"
virtual_server "web" {
  address = "[2001:db8::1:80"
}
