# want: 2:11: cluster "web\nnode b" must not contain control or format characters (U+000A)
cluster = "web\nnode b"
