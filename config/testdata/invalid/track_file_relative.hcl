# want: 3:29: path must be absolute, got "run/maint"
cluster = "c"
track_file "maint" { path = "run/maint" }
