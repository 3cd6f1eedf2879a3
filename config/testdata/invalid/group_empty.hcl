# want: 3:22: virtual_server_group "edge" has no members
cluster = "c"
virtual_server_group "edge" {
}
