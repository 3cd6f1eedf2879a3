# want: 6:16: track_script "chk_proxi" is not declared: add a top-level track_script "chk_proxi" block; did you mean "chk_proxy"?
cluster = "c"
track_script "chk_proxy" { command = ["/bin/true"] }
vrrp_instance "VI_1" {
  interface   = "eth0"
  track_script "chk_proxi" { weight = -10 }
  vrid        = 51
  virtual_ips = ["10.0.0.1/32"]
}
