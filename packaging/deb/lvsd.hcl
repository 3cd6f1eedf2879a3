# /etc/lvsd/lvsd.hcl: the cluster file of lvsd.service.
#
# One file per cluster, the same on every director; each director finds
# its own node block by its host name (or LVSD_NODE, set in a drop-in:
# systemctl edit lvsd). See lvsd.hcl(5) for every block and attribute,
# and /usr/share/doc/lvsd/README.md.gz for the whole picture.
#
# As shipped, this file declares a cluster and nothing else: a director
# started with it runs no VRRP instance and touches no IPVS rule. The
# service is enabled but was not started by the package. Once the file
# describes your cluster:
#
#   lvsd validate -c /etc/lvsd/lvsd.hcl   # every problem as FILE:LINE:COL
#   lvsd plan -c /etc/lvsd/lvsd.hcl       # the IPVS rules this node would program
#   systemctl restart lvsd
#   lvsd status
#
# A director with a virtual_server needs the ip_vs module, which
# /usr/lib/modules-load.d/lvsd.conf loads at boot: run "modprobe ip_vs"
# once after installing, or reboot.

cluster = "example"

# A classic LVS-DR pair: two directors sharing 192.0.2.100 in front of two
# web servers. Uncomment, then put in your own names and addresses (the
# real servers need "lvsd realserver up --vip 192.0.2.100").
#
# node "director-a" {
#   priority = 150
# }
# node "director-b" {
#   priority = 100
# }
#
# vrrp_instance "VI_1" {
#   interface   = "eth0"
#   vrid        = 51
#   virtual_ips = ["192.0.2.100/32"]
# }
#
# virtual_server "web" {
#   address   = "192.0.2.100:80"
#   scheduler = "wlc"
#   method    = "dr"
#
#   health_check "http" {
#     path     = "/"
#     interval = "2s"
#     timeout  = "1s"
#   }
#
#   real_server "192.0.2.12:80" {}
#   real_server "192.0.2.13:80" {}
# }

# status {
#   socket         = "/run/lvsd/lvsd.sock"
#   metrics_listen = "127.0.0.1:9469"   # Prometheus /metrics; "" = off
# }
