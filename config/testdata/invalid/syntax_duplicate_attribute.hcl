# want: 3:1: attribute redefined
cluster = "c"
cluster = "d"
