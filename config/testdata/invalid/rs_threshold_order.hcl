# want: 7:23: lower_threshold 200 is above upper_threshold 100
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {
    upper_threshold = 100
    lower_threshold = 200
  }
}
