package specjson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Each view drops its sections and keeps every other field as it was sent.
// The spec has every field set, so a field runtime-spec adds arrives too
// (a new section for another system as well: hiding it is for speed).
func TestViewsKeepAllButTheirSections(t *testing.T) {
	var sent specs.Spec
	fill(reflect.ValueOf(&sent).Elem())

	linux := sent
	linux.Windows, linux.Solaris, linux.FreeBSD, linux.VM, linux.ZOS = nil, nil, nil, nil, nil
	init := linux
	initLinux := *sent.Linux
	initLinux.Resources, initLinux.IntelRdt, initLinux.NetDevices, initLinux.MemoryPolicy = nil, nil, nil, nil
	init.Linux = &initLinux

	for _, tc := range []struct {
		name string
		send any
		got  interface{ get() *specs.Spec }
		want *specs.Spec
	}{
		{"Linux", Linux{&sent}, &Linux{}, &linux},
		{"Init", Init{&sent}, &Init{}, &init},
		{"Linux null", Linux{}, &Linux{}, nil},
		{"Init null", Init{}, &Init{}, nil},
	} {
		data, err := json.Marshal(tc.send)
		if err != nil {
			t.Fatal(tc.name, err)
		}
		if err := json.Unmarshal(data, tc.got); err != nil {
			t.Fatal(tc.name, err)
		}
		if got := tc.got.get(); !reflect.DeepEqual(got, tc.want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			t.Fatalf("%s: got\n%s\nwant\n%s", tc.name, g, w)
		}
	}
}

// A spec of the wrong shape fails naming the field as config.json has it,
// whichever view decodes it.
func TestErrorsNameConfigFields(t *testing.T) {
	for in, want := range map[string]string{
		`{"ociVersion": 5}`:                "Go struct field Spec.ociVersion of type string",
		`{"process": {"args": "sh"}}`:      "Go struct field Process.process.args of type []string",
		`{"linux": {"maskedPaths": true}}`: "linux.maskedPaths of type []string",
	} {
		for _, v := range []any{&Linux{}, &Init{}} {
			if err := json.Unmarshal([]byte(in), v); err == nil || !strings.HasSuffix(err.Error(), want) {
				t.Errorf("%T %s: %v; want …%s", v, in, err, want)
			}
		}
	}
}

func (s *Linux) get() *specs.Spec { return s.Spec }
func (s *Init) get() *specs.Spec  { return s.Spec }

// fill sets every field v reaches to something other than its zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	}
}
