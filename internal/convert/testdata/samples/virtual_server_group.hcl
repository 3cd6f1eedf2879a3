# Converted by lvsd convert from testdata/samples/virtual_server_group.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/virtual_server_group.conf:5: notification_email { … }
#   testdata/samples/virtual_server_group.conf:8: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/virtual_server_group.conf:9: smtp_server 192.168.200.1
#   testdata/samples/virtual_server_group.conf:10: smtp_connect_timeout 30
#   testdata/samples/virtual_server_group.conf:11: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/virtual_server_group.conf:11 (router_id)
node "LVS_DEVEL" {
}
