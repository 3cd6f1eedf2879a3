# want: 8:22: expect_answer "2001:db8::1" is not an address of a A record
cluster = "c"
virtual_server "dns" {
  address = "10.0.0.1:53"
  health_check "dns" {
    type          = "A"
    name          = "www.example.com"
    expect_answer = ["2001:db8::1"]
  }
}
