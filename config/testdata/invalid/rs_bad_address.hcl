# want: 5:15: invalid real server "10.0.0.11:http"
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11:http" {
  }
}
