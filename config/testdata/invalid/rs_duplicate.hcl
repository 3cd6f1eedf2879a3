# want: 7:15: real server 10.0.0.11:80 is listed twice in virtual_server "web"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11" {
  }
  real_server "10.0.0.11:80" {
  }
}
