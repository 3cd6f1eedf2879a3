# want: 5:15: tcp_fin must be whole seconds, got 1500ms
cluster = "c"
ipvs {
  timeouts {
    tcp_fin = "1500ms"
  }
}
