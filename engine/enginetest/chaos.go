package enginetest

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// Chaos is an upstream that fails at random in every way an upstream
// can: 5xx errors, hangs before the headers, connection resets, 429s,
// streams broken or stalled after their first chunk. The storm tests put
// several behind one scheme. Calm makes it answer everything whole.
type Chaos struct {
	*Upstream
	calm atomic.Bool
}

// NewChaos starts a chaos upstream that the test's cleanup closes.
func NewChaos(t testing.TB) *Chaos {
	t.Helper()
	c := &Chaos{}
	c.Upstream = NewUpstream(t, c.serve)
	return c
}

// Calm switches the chaos off (true) or on again (false).
func (c *Chaos) Calm(on bool) { c.calm.Store(on) }

func (c *Chaos) serve(_ int64, w http.ResponseWriter, r *http.Request) {
	stream := strings.Contains(string(Body(r)), `"stream":true`)
	if c.calm.Load() {
		if stream {
			WholeStream(w, r, "calm")
		} else {
			WriteChat(w, "calm")
		}
		return
	}
	switch p := rand.IntN(100); {
	case p < 15:
		WriteErr(w, 500+rand.IntN(4), "")
	case p < 25:
		Hang(r) // before the headers: the first-byte timeout ends it
	case p < 35:
		Reset(w)
	case p < 40:
		w.Header().Set("Retry-After", "0")
		WriteErr(w, 429, "")
	case stream && p < 48:
		s := StartSSE(w)
		s.Data(Chunk("part", ""))
		Reset(w) // broken after commit
	case stream && p < 55:
		s := StartSSE(w)
		s.Data(Chunk("part", ""))
		Hang(r) // stalled after commit: the idle timeout ends it
	case stream:
		WholeStream(w, r, "a b c")
	default:
		WriteChat(w, "ok")
	}
}
