# want: 6:17: helo_name "lb1 example" must be one word
cluster = "c"
virtual_server "mail" {
  address = "10.0.0.1:25"
  health_check "smtp" {
    helo_name = "lb1 example"
  }
}
