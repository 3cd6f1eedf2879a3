package daemon

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBuildChecksTypes: each of the udp, dns, ping and smtp types becomes
// its checker with every option of the file, on the check's own port where
// it names one.
func TestBuildChecksTypes(t *testing.T) {
	cfg := mustConfig(t, `cluster = "c"

virtual_server "dns" {
  address  = "192.0.2.100:53"
  protocol = "udp"
  real_server "192.0.2.10:53" {
    health_check "udp" {
      port             = 5353
      payload          = "01 02"
      expect_reply     = "0X"
      min_reply_length = 1
      max_reply_length = 9
    }
  }
  real_server "192.0.2.11:53" {
    health_check "dns" {
      type          = "a"
      name          = "www.example.com"
      expect_answer = ["192.0.2.80"]
      timeout       = "1s"
    }
  }
}

virtual_server "mail" {
  address = "[2001:db8::100]:25"
  real_server "[2001:db8::12]:25" {
    health_check "ping" {}
  }
  real_server "[2001:db8::13]:25" {
    health_check "smtp" {
      helo_name = "lb1.example.com"
    }
  }
}
`, "")
	var got []string
	for _, j := range buildChecks(cfg).jobs {
		got = append(got, fmt.Sprint(j.Checker))
	}
	want := []string{
		"udp 192.0.2.10:5353 payload=0102 require_reply=true reply=00 mask=0f len=1..9 timeout=2s",
		`dns 192.0.2.11:53 A www.example.com. expect=["192.0.2.80"] timeout=1s`,
		"ping 2001:db8::12 timeout=2s",
		`smtp [2001:db8::13]:25 helo="lb1.example.com" timeout=2s`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checkers (-want +got):\n%s", diff)
	}
}
