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

func TestPublishCollisions(t *testing.T) {
	for _, c := range []struct {
		ps   []string
		dup  bool
		note string
	}{
		{[]string{"18190:80", "18190:80/udp"}, false, "tcp and udp are distinct"},
		{[]string{"127.0.0.1:18190:80", "127.0.0.2:18190:81"}, false, "distinct addresses"},
		{[]string{"80", "80/udp", "81", "81"}, false, "ephemeral host ports are all distinct"},
		{[]string{"18190:80", "18190:81"}, true, "same port"},
		{[]string{"127.0.0.1:18190:80", "18190:81"}, true, "every address overlaps one"},
		{[]string{"18190:80", "127.0.0.1:18190:81"}, true, "one overlaps every address"},
		{[]string{"1-65535:1-65535", "127.0.0.1:65535:80"}, true, "the whole range, then its last port (linear, not quadratic)"},
	} {
		_, err := ParsePublishes(c.ps)
		if (err != nil) != c.dup {
			t.Errorf("%v (%s): err %v, want a duplicate: %v", c.ps, c.note, err, c.dup)
		}
	}
}
