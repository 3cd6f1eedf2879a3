# want: 3:1: unsupported attribute "clustr" here; did you mean "cluster"
cluster = "c"
clustr = "d"
