package netns

import "testing"

func TestPublishRoundTrip(t *testing.T) {
	for in, want := range map[string]string{
		"80":                    "80/tcp",
		"8080:80":               "8080:80/tcp",
		"127.0.0.1:8080:80/udp": "127.0.0.1:8080:80/udp",
		"127.0.0.1::80":         "127.0.0.1::80/tcp",
		"8080-8081:80-81":       "8080:80/tcp,8081:81/tcp",
	} {
		ports, err := ParsePublish(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got := FormatPorts(ports)
		if got != want {
			t.Errorf("-p %s: %s, want %s", in, got, want)
		}
		again, err := ParsePorts(got)
		if err != nil || FormatPorts(again) != got {
			t.Errorf("%s does not parse back: %v", got, err)
		}
	}
	for _, bad := range []string{"", "0", "70000", "a:b", "1:2:3:4", "80/sctp", "8080-8082:80-81", "9-8:1-2", "::1:80:80"} {
		if _, err := ParsePublish(bad); err == nil {
			t.Errorf("-p %q accepted", bad)
		}
	}
}
