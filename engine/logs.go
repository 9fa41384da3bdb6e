package engine

import (
	"bytes"
	"io"
	"sync"
)

// LogRing keeps the newest log lines for /admin/logs. slog handlers write
// one whole line per call, so each Write is one entry.
type LogRing struct {
	mu    sync.Mutex
	lines []string // circular, len == capacity once full
	head  int      // index of the oldest line once full
	out   io.Writer
}

// NewLogRing keeps up to n lines and copies every write to out (may be nil).
func NewLogRing(n int, out io.Writer) *LogRing {
	return &LogRing{lines: make([]string, 0, n), out: out}
}

func (r *LogRing) Write(p []byte) (int, error) {
	if r.out != nil {
		r.out.Write(p)
	}
	line := string(bytes.TrimRight(p, "\n"))
	r.mu.Lock()
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, line)
	} else {
		r.lines[r.head] = line
		r.head = (r.head + 1) % len(r.lines)
	}
	r.mu.Unlock()
	return len(p), nil
}

// Lines returns the kept lines, oldest first.
func (r *LogRing) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lines))
	out = append(out, r.lines[r.head:]...)
	return append(out, r.lines[:r.head]...)
}
