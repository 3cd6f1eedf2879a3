# want: 3:6: node "a\x00" must not contain control or format characters (U+0000)
cluster = "c"
node "a\u0000" {
  priority = 100
}
