// Package jsonlog writes a container's output the way Docker's json-file log
// driver does: one JSON object per line, {"stream":"stdout","time":…,
// "log":"…\n"}, rotated by size (--log-opt max-size, max-file). glassbox-shim
// writes a detached container's log with it, glassbox a foreground run's.
// It imports no encoding/json: the shim stays small.
package jsonlog

import (
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// File is a container's log: the file at Path, rotated when a line would
// take it past MaxSize (0: never), MaxFiles files kept in all.
type File struct {
	path     string
	maxSize  int64
	maxFiles int

	mu   sync.Mutex // one stream's line at a time
	f    *os.File   // nil: nothing is kept
	size int64
}

// Open opens (or creates) the log at path to append to; an empty path keeps
// nothing (--log-driver none), nor does a path that cannot be opened (the
// state directory is gone): the output is still read and dropped.
func Open(path string, maxSize int64, maxFiles int) *File {
	l := &File{path: path, maxSize: maxSize, maxFiles: max(maxFiles, 1)}
	l.open()
	return l
}

func (l *File) open() {
	l.f, l.size = nil, 0
	if l.path == "" {
		return
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return
	}
	if fi, err := f.Stat(); err == nil {
		l.size = fi.Size()
	}
	l.f = f
}

// WriteLine appends one line of stream (stdout or stderr), in one write.
func (l *File) WriteLine(stream string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	b := make([]byte, 0, len(line)+96)
	b = append(b, `{"stream":"`...)
	b = append(b, stream...)
	b = append(b, `","time":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","log":`...)
	b = appendJSONString(b, line)
	b = append(b, "}\n"...)
	if l.maxSize > 0 && l.size > 0 && l.size+int64(len(b)) > l.maxSize {
		l.rotate()
	}
	n, _ := l.f.Write(b)
	l.size += int64(n)
}

// Close closes the log.
func (l *File) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// rotate renames LOG.N-1 to LOG.N, …, LOG to LOG.1 (the oldest falls off the
// end) and starts a new LOG; with one file kept, the log starts again empty.
// A reader following the old file reads it to its end, then opens the new.
func (l *File) rotate() {
	l.f.Close()
	if l.maxFiles > 1 {
		for n := l.maxFiles - 1; n > 1; n-- {
			os.Rename(l.path+"."+strconv.Itoa(n-1), l.path+"."+strconv.Itoa(n))
		}
		os.Rename(l.path, l.path+".1")
	} else {
		os.Remove(l.path)
	}
	l.open()
}

// Lines gathers one stream's output into the lines the log keeps.
type Lines struct {
	Log    *File
	Stream string // stdout or stderr
	// Raw: a terminal's output, logged as it comes — a shell's prompt has
	// no newline.
	Raw     bool
	pending []byte
}

// longest is where a line without a newline is cut, as Docker cuts at 16 KiB.
const longest = 32 << 10

// Write logs each complete line of p (a terminal's: all of p).
func (s *Lines) Write(p []byte) (int, error) {
	if s.Raw {
		s.Log.WriteLine(s.Stream, p)
		return len(p), nil
	}
	s.pending = append(s.pending, p...)
	for {
		i := indexNewline(s.pending)
		if i < 0 {
			break
		}
		s.Log.WriteLine(s.Stream, s.pending[:i+1])
		s.pending = s.pending[:copy(s.pending, s.pending[i+1:])]
	}
	if len(s.pending) >= longest {
		s.Log.WriteLine(s.Stream, s.pending)
		s.pending = s.pending[:0]
	}
	return len(p), nil
}

// Flush logs a last line without a newline, at the stream's end.
func (s *Lines) Flush() {
	if len(s.pending) > 0 {
		s.Log.WriteLine(s.Stream, s.pending)
		s.pending = s.pending[:0]
	}
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = append(b, s[:size]...)
		}
		s = s[size:]
	}
	return append(b, '"')
}
