# want: 8:18: scheduler flag mh-port needs scheduler = "mh", not "sh"
# want: 8:29: unknown scheduler flag "flag-4"
# want: 8:50: scheduler flag sh-port is listed twice
cluster = "c"
virtual_server "web" {
  address     = "10.0.0.1:80"
  scheduler   = "sh"
  sched_flags = ["mh-port", "flag-4", "sh-port", "sh-port"]
}
