# want: 3:16: virtual_server "web\x7f" must not contain control or format characters (U+007F)
cluster = "c"
virtual_server "web\u007f" {
  address = "10.0.0.1:80"
  real_server "10.0.0.2:80" {}
}
