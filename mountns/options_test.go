package mountns

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	o := ParseOptions([]string{"nosuid", "ro", "rw", "rbind", "rslave", "mode=755", "size=65536k"})
	if o.Flags != unix.MS_NOSUID|unix.MS_BIND|unix.MS_REC {
		t.Errorf("flags %s", FlagNames(o.Flags))
	}
	if o.Propagation != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("propagation %s", FlagNames(o.Propagation))
	}
	if o.Data != "mode=755,size=65536k" {
		t.Errorf("data %q", o.Data)
	}
}

func TestPropagation(t *testing.T) {
	if p, _ := Propagation(""); p != unix.MS_PRIVATE|unix.MS_REC {
		t.Errorf("default propagation %s, want rprivate", FlagNames(p))
	}
	if p, _ := Propagation("slave"); p != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("slave: %s", FlagNames(p))
	}
	if _, err := Propagation("sideways"); err == nil {
		t.Error("an unknown propagation must be an error")
	}
}

func TestFlagNames(t *testing.T) {
	if got := FlagNames(unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY); got != "MS_RDONLY|MS_BIND|MS_REC" {
		t.Errorf("got %q", got)
	}
}
