# want: 4:16: the range ends before it starts
cluster = "c"
virtual_server_group "edge" {
  addresses = ["10.0.0.9-3:80"]
}
