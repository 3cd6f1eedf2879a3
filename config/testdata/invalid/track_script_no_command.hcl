# want: 3:32: command must not be empty
cluster = "c"
track_script "chk" { command = [] }
