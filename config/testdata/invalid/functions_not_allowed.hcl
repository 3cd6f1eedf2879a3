# want: 2:11: function calls not allowed
cluster = upper("c")
