package stages

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// The init gets the whole spec but the sections only the host acts on
// (initSpec): every other field, however new, arrives as sent. The spec has
// every field set, so a field runtime-spec adds is covered too.
func TestInitReceivesTheSpecItActsOn(t *testing.T) {
	host, init, err := newSyncSockets()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	defer init.Close()
	a, b := &syncSocket{f: host}, &syncSocket{f: init}

	var sent specs.Spec
	fill(reflect.ValueOf(&sent).Elem())
	want := sent
	want.Windows, want.Solaris, want.VM, want.ZOS = nil, nil, nil, nil
	linux := *sent.Linux
	linux.Resources, linux.IntelRdt, linux.NetDevices, linux.MemoryPolicy = nil, nil, nil, nil
	want.Linux = &linux

	for _, tc := range []struct {
		spec *specs.Spec
		want *specs.Spec
	}{{&sent, &want}, {nil, nil}} {
		go a.send(message{Kind: "config", Config: &InitConfig{Spec: initSpec{tc.spec}}})
		m, err := b.recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Config.Spec.Spec; !reflect.DeepEqual(got, tc.want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			t.Fatalf("the init got\n%s\nwant\n%s", g, w)
		}
	}
}

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
