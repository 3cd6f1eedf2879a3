# want: 6:14: weight must be between 0 and 65535, got 70000
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {
    weight = 70000
  }
}
