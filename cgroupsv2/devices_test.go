package cgroupsv2

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func dev(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
}

var denyAll = specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}

func TestDevicePolicy(t *testing.T) {
	p, err := NewDevicePolicy(nil)
	if err != nil || !p.AllowByDefault || len(p.Exceptions) != 0 {
		t.Errorf("no rules must allow every device, got %+v %v", p, err)
	}
	// A rule for everything resets what came before it.
	p, err = NewDevicePolicy([]specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwm"), denyAll, dev(true, "c", 1, 5, "wr"), dev(true, "c", 136, -1, "")})
	if err != nil {
		t.Fatal(err)
	}
	if p.AllowByDefault || len(p.Exceptions) != 2 {
		t.Fatalf("got %+v", p)
	}
	want := [][2]string{{"devices.deny", "a"}, {"devices.allow", "c 1:5 rw"}, {"devices.allow", "c 136:* rwm"}}
	if got := p.V1Lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("V1Lines = %q, want %q", got, want)
	}
	for _, bad := range []specs.LinuxDeviceCgroup{dev(true, "x", 1, 1, "r"), dev(true, "c", 1, 1, "rx"), dev(true, "a", 1, -1, "r")} {
		if _, err := NewDevicePolicy([]specs.LinuxDeviceCgroup{bad}); err == nil {
			t.Errorf("rule %+v must be refused", bad)
		}
	}
}
