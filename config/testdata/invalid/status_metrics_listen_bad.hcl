# want: 4:20: metrics_listen must be HOST:PORT (or "" for off), got "9469"
cluster = "c"
status {
  metrics_listen = "9469"
}
