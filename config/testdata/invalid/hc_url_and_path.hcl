# want: 6:5: path is set both here and in url blocks: with url blocks, set it in each url
cluster = "c"
virtual_server "web" {
  address = "10.0.0.1:80"
  health_check "http" {
    path = "/a"
    url { path = "/b" }
  }
}
