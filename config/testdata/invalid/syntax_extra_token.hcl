# want: 2:15: missing newline after argument
cluster = "c" "d"
