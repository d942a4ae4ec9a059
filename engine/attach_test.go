package engine

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string]string{
		"":              "\x10\x11",
		"ctrl-p,ctrl-q": "\x10\x11",
		"ctrl-@,ctrl-[": "\x00\x1b",
		"CTRL-A,x":      "\x01x",
		"ctrl-_":        "\x1f",
	} {
		if got, err := ParseDetachKeys(in); err != nil || string(got) != want {
			t.Errorf("ParseDetachKeys(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"ctrl-", "ctrl-pq", "ctrl-1", "ab", ",", "ctrl-ä", "\xff\xfe"} {
		if _, err := ParseDetachKeys(in); err == nil || !strings.Contains(err.Error(), "is not a key") {
			t.Errorf("ParseDetachKeys(%q): %v, want an error naming the key", in, err)
		}
	}
}

func TestCopyStdin(t *testing.T) {
	keys := []byte{16, 17}
	for _, c := range []struct {
		in, out  string
		detached bool
	}{
		{"hello\n", "hello\n", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b\x10\x10\x11", "a\x10b\x10", true}, // a held key that is not the sequence is input
		{"tail\x10", "tail\x10", false},            // the end of input gives back what was held
	} {
		var out bytes.Buffer
		// One byte a read: the sequence split across reads.
		err := CopyStdin(&out, iotest.OneByteReader(strings.NewReader(c.in)), keys)
		if out.String() != c.out || (err == ErrDetached) != c.detached || err != nil && err != ErrDetached {
			t.Errorf("CopyStdin(%q) wrote %q, %v; want %q, detached %v", c.in, out.String(), err, c.out, c.detached)
		}
	}
}
