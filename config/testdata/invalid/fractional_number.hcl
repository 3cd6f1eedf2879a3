# want: 6:14: weight must be a whole number, got 1.5
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {
    weight = 1.5
  }
}
