# want: 6:3: sets group and address; set only one
cluster = "c"
virtual_server_group "edge" { addresses = ["10.0.0.1:80"] }
virtual_server "web" {
  address = "10.0.0.2:80"
  group   = "edge"
  real_server "10.0.0.11" {}
}
