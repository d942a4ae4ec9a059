package stages

import (
	"fmt"
	"strings"
	"testing"
)

// A message larger than a packet — a mount stage's steps for thousands of
// mounts — arrives whole; the usual small one in one packet.
func TestSyncSocketCarriesLargeMessages(t *testing.T) {
	host, init, err := newSyncSockets()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	defer init.Close()
	a, b := &syncSocket{f: host}, &syncSocket{f: init}
	for _, steps := range []int{0, 1, 3000, 20000} {
		m := message{Kind: "done", Stage: "mount"}
		for i := range steps {
			m.Steps = append(m.Steps, Step{Name: fmt.Sprintf("mount tmpfs on /mnt/%d", i)})
		}
		sent := make(chan error, 1)
		go func() { sent <- a.send(m) }()
		got, err := b.recv()
		if err := <-sent; err != nil {
			t.Fatalf("%d steps: send: %v", steps, err)
		}
		if err != nil || got.Kind != "done" || len(got.Steps) != steps || (steps > 0 && got.Steps[steps-1].Name != m.Steps[steps-1].Name) {
			t.Fatalf("%d steps: got %d steps, %v", steps, len(got.Steps), err)
		}
	}
}

// Past the limit the sender refuses, naming the limit: the init then says so
// on its stderr rather than exiting without a word.
func TestSyncSocketRefusesTooLarge(t *testing.T) {
	host, init, err := newSyncSockets()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	defer init.Close()
	m := message{Kind: "done", Steps: []Step{{Name: strings.Repeat("x", maxMessage)}}}
	if err := (&syncSocket{f: host}).send(m); err == nil || !strings.Contains(err.Error(), fmt.Sprint(maxMessage)) {
		t.Errorf("send of %d bytes: %v", maxMessage, err)
	}
}

// A peer that goes away half way through a message is not an execve's EOF;
// a peer of another protocol is named as such.
func TestSyncSocketTruncatedAndForeign(t *testing.T) {
	for _, c := range []struct {
		packets [][]byte
		want    string
	}{
		{[][]byte{append([]byte{1}, `{"kind":"do`...)}, "unexpected EOF"},
		{[][]byte{[]byte(`{"kind":"config"}`)}, "different builds"},
	} {
		host, init, err := newSyncSockets()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range c.packets {
			if _, err := host.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		host.Close()
		_, err = (&syncSocket{f: init}).recv()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.packets, err, c.want)
		}
		init.Close()
	}
}
