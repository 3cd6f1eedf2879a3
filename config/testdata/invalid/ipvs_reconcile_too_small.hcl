# want: 4:24: reconcile_interval must be at least 1s, got 10ms
cluster = "c"
ipvs {
  reconcile_interval = "10ms"
}
