# want: 6:27: element 2 of expect_status must be between 100 and 599, got 999
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "http" {
    expect_status = [200, 999]
  }
}
