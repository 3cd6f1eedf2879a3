# want: 5:11: has a member on port 0 (all ports, line 3), which needs persistence > 0
cluster = "c"
virtual_server_group "edge" { addresses = ["10.0.0.1:0"] }
virtual_server "web" {
  group = "edge"
  real_server "10.0.0.11" {}
}
