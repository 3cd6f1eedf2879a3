# want: 7:3: duplicate health_check block
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "tcp" {
  }
  health_check "http" {
  }
}
