# want: 4:14: priority must be between 1 and 255, got 0
cluster = "c"
node "a" {
  priority = 0
}
