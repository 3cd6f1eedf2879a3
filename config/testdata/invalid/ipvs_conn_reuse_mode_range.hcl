# want: 3:26: conn_reuse_mode must be between 0 and 3, got 4
cluster = "c"
ipvs { conn_reuse_mode = 4 }
