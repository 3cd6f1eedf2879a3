# want: 4:12: socket must be an absolute path, got "lvsd.sock"
cluster = "c"
status {
  socket = "lvsd.sock"
}
