# want: 4:1: duplicate ipvs block
cluster = "c"
ipvs {}
ipvs {}
