# want: 4:14: invalid expression
cluster = "c"
node "a" {
  priority = = 1
}
