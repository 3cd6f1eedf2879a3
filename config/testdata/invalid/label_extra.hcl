# want: 3:10: a node block takes one label, not 2
cluster = "c"
node "a" "b" {}
