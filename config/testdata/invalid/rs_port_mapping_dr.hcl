# want: 5:15: real server port 8080 differs from the service port 80: method dr cannot map ports
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  real_server "10.0.0.11:8080" {
  }
}
