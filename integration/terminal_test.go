package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// terminal is a tmux session running bash with the prompt "outer$ ": a
// person at a terminal, for tests that type and read the screen.
type terminal struct {
	t       *testing.T
	session string
}

// newTerminal starts one of cols×rows; without tmux the test fails, or is
// skipped in the VM, whose image has none.
func newTerminal(t *testing.T, cols, rows int) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed (.ci/run installs it)")
	}
	term := &terminal{t: t, session: fmt.Sprintf("glassbox-%s-%d", t.Name(), os.Getpid())}
	term.tmux("new-session", "-d", "-s", term.session, "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows),
		"env", "-i", "PATH=/usr/bin:/bin", "PS1=outer$ ", "bash", "--norc")
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", term.session).Run() })
	return term
}

func (term *terminal) tmux(args ...string) string {
	term.t.Helper()
	out, err := exec.Command("tmux", args...).CombinedOutput()
	if err != nil {
		term.t.Fatalf("tmux %v: %v %s", args, err, out)
	}
	return string(out)
}

// keys types, as tmux send-keys does ("Enter", "C-c" are keys).
func (term *terminal) keys(keys ...string) {
	term.t.Helper()
	term.tmux(append([]string{"send-keys", "-t", term.session}, keys...)...)
}

// screen is what the terminal shows, with its scrollback, wrapped lines joined.
func (term *terminal) screen() string {
	return term.tmux("capture-pane", "-p", "-J", "-S", "-500", "-t", term.session)
}

// waitFor waits up to 10 s for text to appear.
func (term *terminal) waitFor(text string) {
	term.t.Helper()
	term.waitUntil("the terminal never showed "+fmt.Sprintf("%q", text), func(s string) bool { return strings.Contains(s, text) })
}

func (term *terminal) waitUntil(what string, ok func(screen string) bool) {
	term.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s := term.screen()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("%s:\n%s", what, strings.TrimRight(s, "\n")) // the screen's blank bottom says nothing
		}
	}
}

// exitedWith waits for the outer prompt to be the last line again, and
// checks $? there.
func (term *terminal) exitedWith(code int) {
	term.t.Helper()
	term.waitUntil("no outer prompt", func(s string) bool {
		lines := strings.Fields(strings.TrimSpace(s))
		return len(lines) > 0 && lines[len(lines)-1] == "outer$"
	})
	term.keys(fmt.Sprintf("echo outer-exit=$?-%d", code), "Enter")
	term.waitFor(fmt.Sprintf("outer-exit=%d-%d", code, code))
}

// kill closes the terminal: its processes get SIGHUP.
func (term *terminal) kill() { term.tmux("kill-session", "-t", term.session) }
