// Package atomicfile replaces a file in one step: its new contents go to a
// temporary file beside it, which rename(2) then puts in its place. A reader
// sees the old file or the new one, never half of one; a crash or a full disk
// leaves at most a temporary file (<name>.<random>.tmp), never a torn record.
package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// Write writes path through write, with permissions perm. The temporary file
// has a name of its own, so two writers of one path never share one; on any
// failure it is removed.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	tmp, err := createTemp(path)
	if err != nil {
		return err
	}
	err = write(tmp)
	err = errors.Join(err, tmp.Chmod(perm), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// createTemp is os.CreateTemp(dir, base+".*.tmp") through plainfile.Open:
// a state record is written on every run, several times.
func createTemp(path string) (*os.File, error) {
	for try := 0; ; try++ {
		tmp := path + "." + strconv.FormatUint(uint64(rand.Uint32()), 10) + ".tmp"
		f, err := plainfile.Open(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) || try == 100 {
			return f, err
		}
	}
}

// WriteFile is Write of data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// RemoveStale removes the temporary files in dir that writes killed half way
// left, and returns how many: those older than a minute (a live writer's are
// younger).
func RemoveStale(dir string) int {
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	removed := 0
	for _, p := range tmps {
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > time.Minute && os.Remove(p) == nil {
			removed++
		}
	}
	return removed
}
