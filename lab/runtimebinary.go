package lab

// Lab 19: CVE-2019-5736, the runtime binary overwritten from inside a
// container. The lab's directory gets a throwaway runtime — a copy of
// python3 running exec.py, which enters a container's namespaces and execs
// there with no protection — and attack.sh, which a container runs. The
// attack succeeds against the copy and fails against glassbox, whose init
// runs from a read-only mount and is not dumpable.

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/glassbox-dev/glassbox/container"
)

const lab19Dir = "19-runtime-binary"

var (
	//go:embed lab19/attack.sh
	lab19Attack []byte
	//go:embed lab19/exec.py
	lab19Exec []byte
)

// lab19Overwritten is how the copy begins once the attack wrote it.
const lab19Overwritten = "#!/bin/sh\necho \"overwritten from inside the container lab19\"\n"

func startRuntimeBinary(e *Env) (string, error) {
	dir := filepath.Join(e.Home, lab19Dir)
	// The system's python3, not a wrapper script a PATH may put first.
	python, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		return "", fmt.Errorf("lab 19's throwaway runtime is a copy of /usr/bin/python3: apt-get install python3")
	}
	data, err := os.ReadFile(python)
	if err != nil {
		return "", err
	}
	if !bytes.HasPrefix(data, []byte("\x7fELF")) {
		return "", fmt.Errorf("%s is not a program (ELF) to copy", python)
	}
	for name, content := range map[string][]byte{"runtime": data, "exec.py": lab19Exec, "attack.sh": lab19Attack} {
		if err := writeIn(dir, name, content, 0o755); err != nil {
			return "", err
		}
	}
	return "the unprotected runtime: " + filepath.Join(dir, "runtime") + " " + filepath.Join(dir, "exec.py") + " PID PROGRAM…", nil
}

func checkRuntimeBinary(e *Env) []string {
	copyOf, err := os.ReadFile(filepath.Join(e.Home, lab19Dir, "runtime"))
	if err != nil {
		return []string{"the lab is not started: glassbox lab start 19"}
	}
	c := e.container("lab19")
	if c == nil || c.Status != container.Running {
		return []string{"no running container named lab19 (running attack.sh)"}
	}
	var missing []string
	if caps := c.Spec.Process.Capabilities; caps == nil || !slices.Contains(caps.Effective, "CAP_SYS_PTRACE") {
		missing = append(missing, "lab19 lacks CAP_SYS_PTRACE: without it the attack cannot even open a host binary (--cap-add SYS_PTRACE)")
	}
	if !strings.HasPrefix(string(copyOf), lab19Overwritten) {
		missing = append(missing, "the throwaway runtime is not overwritten yet: run a program in lab19 with it (exercise 2)")
	}
	if log, _ := e.glassbox("logs", "lab19"); !strings.Contains(log, "writing its binary was refused: Read-only file system") {
		missing = append(missing, "lab19's attacker has not been refused glassbox's binary yet: glassbox exec lab19 true (again, until its log says so)")
	}
	return missing
}
