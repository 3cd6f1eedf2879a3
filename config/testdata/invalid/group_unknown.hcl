# want: 5:11: group "edg" is not a virtual_server_group; did you mean "edge"?
cluster = "c"
virtual_server_group "edge" { addresses = ["10.0.0.1:80"] }
virtual_server "web" {
  group = "edg"
  real_server "10.0.0.11" {}
}
