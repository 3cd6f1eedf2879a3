# want: 4:6: duplicate node "a" (the first is at line
cluster = "c"
node "a" {}
node "a" {}
