# Converted by lvsd convert from testdata/samples/status_code.conf (node "LVS_DEVEL").
# keepalived settings that change nothing lvsd does, left out:
#   testdata/samples/status_code.conf:6: notification_email { … }
#   testdata/samples/status_code.conf:9: notification_email_from Alexandre.Cassen@firewall.loc
#   testdata/samples/status_code.conf:10: smtp_server 192.168.200.1
#   testdata/samples/status_code.conf:11: smtp_connect_timeout 30
#   testdata/samples/status_code.conf:12: router_id LVS_DEVEL

# the cluster's name in status, logs and metrics: rename it
cluster = "keepalived"

# from testdata/samples/status_code.conf:12 (router_id)
node "LVS_DEVEL" {
}

# from testdata/samples/status_code.conf:15
virtual_server "192.168.200.100:443" {
  address     = "192.168.200.100:443"
  protocol    = "tcp"
  scheduler   = "rr"
  method      = "nat"
  persistence = "50s"
  real_server "192.168.201.100:443" {
    weight = 1
    health_check "https" {
      interval           = "6s"
      timeout            = "3s"
      rise               = 1
      fall               = 1
      retry              = 3
      delay_before_retry = "3s"
      tls_skip_verify    = true
      url {
        path          = "/"
        expect_status = [200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270, 271, 272, 273, 274, 275, 276, 277, 278, 279, 280, 281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292, 293, 294, 295, 296, 297, 298, 299, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 419, 420, 421, 422, 423, 424, 425, 426, 427, 428, 429, 430, 431, 432, 433, 434, 435, 436, 437, 438, 439, 440, 441, 442, 443, 444, 445, 446, 447, 448, 449, 450, 451, 452, 453, 454, 455, 456, 457, 458, 459, 460, 461, 462, 463, 464, 465, 466, 467, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477, 478, 479, 480, 481, 482, 483, 484, 485, 486, 487, 488, 489, 490, 491, 492, 493, 494, 495, 496, 497, 498, 499, 503, 505]
      }
      url {
        path          = "/mrtg/"
        expect_status = [200]
        digest        = "9b3a0c85a887a256d6939da88aabd8cd"
      }
    }
  }
}
