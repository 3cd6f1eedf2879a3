# want: 6:12: fall must be between 1 and 1000, got 0
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "tcp" {
    fall = 0
  }
}
