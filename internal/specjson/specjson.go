// Package specjson is how glassbox's JSON sees an OCI spec: config.json, the
// state record, a detached run's hand-over to its monitor, the init's config.
//
// The first time encoding/json meets a struct type, to decode or to encode
// one, it builds an encoder for every type that type reaches: specs.Spec
// reaches 63 struct types, 0.9 ms of a fresh process's time — and a run is
// two fresh processes, glassbox and the container's init. The types below
// embed specs.Spec under fields of their own that hide the sections a process
// never reads (json's rule: of two fields with one name, the shallower wins,
// and the hidden one's type is never visited).
package specjson

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Linux is a spec without the sections for Windows, Solaris, FreeBSD, VMs
// and z/OS: a Linux runtime ignores them, as runc does, and json skips their
// types, a quarter of a millisecond. So they are not kept in state records,
// and one of the wrong type is ignored rather than refused.
type Linux struct{ *specs.Spec }

type linuxOnly struct {
	specs.Spec
	Windows json.RawMessage `json:"windows,omitempty"`
	Solaris json.RawMessage `json:"solaris,omitempty"`
	FreeBSD json.RawMessage `json:"freebsd,omitempty"`
	VM      json.RawMessage `json:"vm,omitempty"`
	ZOS     json.RawMessage `json:"zos,omitempty"`
}

func (s Linux) MarshalJSON() ([]byte, error) {
	if s.Spec == nil {
		return []byte("null"), nil
	}
	return json.Marshal(&linuxOnly{Spec: *s.Spec})
}

func (s *Linux) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		s.Spec = nil
		return nil
	}
	var v linuxOnly
	if err := json.Unmarshal(b, &v); err != nil {
		return tidy(err)
	}
	s.Spec = &v.Spec
	return nil
}

// Init is a spec on its way to the container's init: sent whole, as Linux,
// and decoded without what only the host acts on too — linux.resources, the
// cgroup stage's 13 types — and linux.intelRdt, netDevices and memoryPolicy,
// which glassbox refuses (spec.Validate; the init would not see them). The
// init then spends 0.5 ms on it instead of 0.9.
type Init struct{ *specs.Spec }

func (s Init) MarshalJSON() ([]byte, error) { return Linux(s).MarshalJSON() }

func (s *Init) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		s.Spec = nil
		return nil
	}
	var v struct {
		linuxOnly
		Linux *struct {
			specs.Linux
			Resources    json.RawMessage `json:"resources"`
			IntelRdt     json.RawMessage `json:"intelRdt"`
			NetDevices   json.RawMessage `json:"netDevices"`
			MemoryPolicy json.RawMessage `json:"memoryPolicy"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return tidy(err)
	}
	if v.Linux != nil {
		v.Spec.Linux = &v.Linux.Linux
	}
	s.Spec = &v.Spec
	return nil
}

// tidy has a decoding error name a field by its place in config.json
// ("Process.process.args"), not by the types above that hold it.
func tidy(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Struct == "" || te.Struct == "linuxOnly" {
			te.Struct = "Spec"
		}
		te.Field = strings.Join(slices.DeleteFunc(strings.Split(te.Field, "."), func(p string) bool {
			return p == "" || p == "linuxOnly" || p == "Spec" || p == "Linux"
		}), ".")
	}
	return err
}
