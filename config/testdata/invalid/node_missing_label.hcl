# want: 3:1: a node block needs a label
cluster = "c"
node {
  priority = 100
}
