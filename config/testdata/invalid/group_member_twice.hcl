# want: 5:33: 10.0.0.3:80 is in virtual_server_group "edge" twice (the first is at line 5)
# want: 6:19: fwmark 4 is in virtual_server_group "edge" twice (the first is at line 6)
cluster = "c"
virtual_server_group "edge" {
  addresses = ["10.0.0.1-5:80", "10.0.0.3:80"]
  fwmarks   = [4, 4]
}
