# want: 3:10: unclosed configuration block
cluster = "c"
node "a" {
  priority = 1
