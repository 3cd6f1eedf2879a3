# want: 3:1: unsupported block type "vrrp_script"
cluster = "c"
vrrp_script "chk" {
  script = "/bin/true"
}
