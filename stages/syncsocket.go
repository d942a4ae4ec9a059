package stages

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/internal/specjson"
)

// The sync socket is a SOCK_SEQPACKET socketpair: one end stays in glassbox, the
// other becomes fd 3 of the container's init. Each message is one JSON packet.
//
//	host → init   {"kind":"config", ...}   once, right after clone
//	host → init   {"kind":"run","stage":"mount"}
//	init → host   {"kind":"done","stage":"mount","start":…,"end":…,"steps":[…]}
//	init → host   {"kind":"failed","stage":"mount","error":{…},"steps":[…]}
//	init → host   {"kind":"execve","stage":"exec","steps":[…]}   right before execve(2)
//
// Steps travel only when the config asks for them (a traced run).
//
// The init's end is close-on-exec, so a successful execve(2) closes it and the
// host reads EOF: that is how glassbox learns the user's program is running.
//
// A packet carries at most packetSize bytes (a socket's buffer bounds a
// packet), and a message can be larger — a config.json with a thousand mounts,
// the mount stage's steps for them: it goes in as many packets as it needs,
// each starting with one byte, 1 when more of the message follows and 0 in its
// last.

// execFifoFd is the exec FIFO's descriptor number in an OCI-created init.
const execFifoFd = 4

// initFd is the sync socket's descriptor number in the container's init.
const initFd = 3

type message struct {
	Kind   string      `json:"kind"`
	Stage  string      `json:"stage,omitempty"`
	Config *InitConfig `json:"config,omitempty"`
	Start  int64       `json:"start,omitempty"` // unix nanoseconds, as seen by the init
	End    int64       `json:"end,omitempty"`
	Err    *Error      `json:"error,omitempty"`
	Steps  []Step      `json:"steps,omitempty"`
}

// protocol is the sync socket's version. glassbox-init can come from another
// build than glassbox; bump this whenever a message changes shape or meaning.
const protocol = 5

// InitConfig is what the init needs to know that is not in its namespaces already.
type InitConfig struct {
	Protocol int           `json:"protocol"`
	Spec     specjson.Init `json:"spec"`
	Rootfs   string        `json:"rootfs"`         // host path of the mounted rootfs
	Fail     string        `json:"fail,omitempty"` // GLASSBOX_TEST_FAIL, for failure-injection tests
	// For config.json's createContainer and startContainer hooks, which the
	// init runs: the container's state and facts (hooks.go).
	State   []byte   `json:"state,omitempty"`
	HookEnv []string `json:"hookEnv,omitempty"`
	// ExecFifo (OCI create): the init waits for `start` on the exec FIFO, its
	// fd execFifoFd, before execve.
	ExecFifo bool `json:"execFifo,omitempty"`
	// Detached (OCI create, exec --detach): the process outlives the glassbox
	// that made it — its caller waits for it — so no parent-death signal.
	Detached bool `json:"detached,omitempty"`
	// ConsoleFd: where the init sends the master of the pseudo-terminal it
	// makes (Options.IO.Console); 0 for none.
	ConsoleFd int `json:"consoleFd,omitempty"`
	// Steps: the run is traced, so the init reports each stage's steps.
	Steps bool `json:"steps,omitempty"`
	// Cgroups: the container's cgroup in each of the host's trees, which the
	// mount stage shows it under /sys/fs/cgroup.
	Cgroups []cgroupsv2.Hierarchy `json:"cgroups,omitempty"`
}

type syncSocket struct {
	f   *os.File
	buf []byte
}

// packetSize is the most one packet carries; maxMessage the most a message
// may have in all (a config.json larger than that is refused by name).
const (
	packetSize = 64 << 10
	maxMessage = 64 << 20
)

// newSyncSockets returns the host end and the init's end.
func newSyncSockets() (host, init *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair(AF_UNIX, SOCK_SEQPACKET): %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-host"), os.NewFile(uintptr(fds[1]), "sync-init"), nil
}

func (s *syncSocket) send(m message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(data) > maxMessage {
		return fmt.Errorf("sync socket: a %d-byte message (the %s message: config.json, or the steps of a stage) is more than the %d glassbox carries", len(data), m.Kind, maxMessage)
	}
	packet := make([]byte, 0, 1+min(len(data), packetSize))
	for {
		n := min(len(data), packetSize)
		more := byte(0)
		if n < len(data) {
			more = 1
		}
		packet = append(append(packet[:0], more), data[:n]...)
		if _, err := s.f.Write(packet); err != nil {
			return err
		}
		if data = data[n:]; more == 0 {
			return nil
		}
	}
}

// recv reads one message, from as many packets as it came in; io.EOF when
// the other side closed its end.
func (s *syncSocket) recv() (message, error) {
	if s.buf == nil {
		s.buf = make([]byte, 1+packetSize)
	}
	var data []byte
	for {
		n, err := s.f.Read(s.buf)
		if n == 0 && err == nil {
			err = io.EOF
		}
		if err == io.EOF && data != nil {
			err = io.ErrUnexpectedEOF // gone half way: not an execve's EOF
		}
		if err != nil {
			return message{}, err
		}
		if s.buf[0] > 1 {
			return message{}, fmt.Errorf("sync socket: a packet flagged %d, not 0 or 1: glassbox and its init come from different builds; install them together (make build)", s.buf[0])
		}
		if s.buf[0] == 0 && data == nil {
			data = s.buf[1:n] // the usual message, in one packet: no copy
			break
		}
		data = append(data, s.buf[1:n]...)
		if len(data) > maxMessage {
			return message{}, fmt.Errorf("sync socket: a message of more than %d bytes", maxMessage)
		}
		if s.buf[0] == 0 {
			break
		}
	}
	var m message
	err := json.Unmarshal(data, &m)
	return m, err
}
