# want: 5:13: weight must be between -253 and 253, got 254
cluster = "c"
track_script "chk" {
  command = ["/bin/true"]
  weight  = 254
}
