package engine

import (
	"context"
	"time"
)

// recentRequest is one entry of the recent-requests list the admin page
// shows: the attempt chain of one client request.
type recentRequest struct {
	ID         string       `json:"id"`
	Time       time.Time    `json:"time"`
	Path       string       `json:"path"`
	Model      string       `json:"model"`
	Scheme     string       `json:"scheme"`
	Stream     bool         `json:"stream"`
	Status     int          `json:"status"`
	Outcome    string       `json:"outcome"`
	DurationMS int64        `json:"duration_ms"`
	Attempts   []attemptLog `json:"attempts"`
	ChannelID  string       `json:"channel_id,omitempty"`
	Tokens     Tokens       `json:"tokens"`
}

// statsTake is what the flusher takes: the changes since last time, and
// with full set, everything (for a snapshot) as of the same moment.
type statsTake struct {
	delta *statsDoc
	full  *statsDoc
}

type statsAskKind uint8

const (
	askView statsAskKind = iota
	askTake
	askTakeFull
	askRecent
	askForget
	askMetrics
)

type statsAsk struct {
	kind  statsAskKind
	id    string // askForget
	reply chan any
}

// recorder is the statistics actor. It owns the Stats value and the ring
// of recent requests.
type recorder struct {
	// in: request goroutines → loop, one record per finished request.
	// Buffered, so a burst of finishing requests never waits for the loop;
	// when it is full, senders wait (bounded by the loop's speed).
	in chan *requestRecord
	// ask: the admin API, /metrics and the flusher → loop.
	ask chan statsAsk
	// done is closed when the loop exits.
	done chan struct{}

	// Loop-owned.
	stats  *Stats
	recent []recentRequest // circular
	next   int             // next slot in recent
	full   bool
}

func newRecorder(s *Stats, keepRecent int) *recorder {
	return &recorder{
		in:     make(chan *requestRecord, 4096),
		ask:    make(chan statsAsk),
		done:   make(chan struct{}),
		stats:  s,
		recent: make([]recentRequest, keepRecent),
	}
}

// Run is the loop. Before it returns it drains records already sent, so a
// graceful shutdown loses no count.
func (r *recorder) Run(ctx context.Context) {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case rec := <-r.in:
					r.onRecord(rec)
				default:
					return
				}
			}
		case rec := <-r.in:
			r.onRecord(rec)
		case a := <-r.ask:
			a.reply <- r.onAsk(a)
		}
	}
}

func (r *recorder) onRecord(rec *requestRecord) {
	r.stats.record(rec)
	if len(r.recent) == 0 {
		return
	}
	rr := recentRequest{ID: rec.ID, Time: rec.Start, Path: rec.Path, Model: rec.Model, Scheme: rec.Scheme,
		Stream: rec.Stream, Status: rec.Status, Outcome: rec.Outcome, DurationMS: rec.End.Sub(rec.Start).Milliseconds(),
		Attempts: rec.Attempts, ChannelID: rec.Answered,
		Tokens: Tokens{Prompt: rec.Usage.Prompt, Completion: rec.Usage.Completion, Total: rec.Usage.Total}}
	r.recent[r.next] = rr
	r.next = (r.next + 1) % len(r.recent)
	if r.next == 0 {
		r.full = true
	}
}

func (r *recorder) onAsk(a statsAsk) any {
	switch a.kind {
	case askView:
		return r.stats.view(time.Now())
	case askTake:
		return statsTake{delta: r.stats.takeDelta()}
	case askTakeFull:
		return statsTake{delta: r.stats.takeDelta(), full: r.stats.doc()}
	case askRecent:
		return r.recentCopy()
	case askForget:
		r.stats.forget(a.id)
		return nil
	case askMetrics:
		return r.stats.metricsView()
	}
	return nil
}

// recentCopy returns the ring oldest first. Attempt slices are never
// changed after a record is sent, so sharing them is safe.
func (r *recorder) recentCopy() []recentRequest {
	if !r.full {
		// Never nil: the admin page gets [] rather than null.
		return append([]recentRequest{}, r.recent[:r.next]...)
	}
	out := make([]recentRequest, 0, len(r.recent))
	out = append(out, r.recent[r.next:]...)
	return append(out, r.recent[:r.next]...)
}

// send hands a finished request to the loop.
func (r *recorder) send(rec *requestRecord) {
	select {
	case r.in <- rec:
	case <-r.done:
	}
}

func (r *recorder) call(ctx context.Context, a statsAsk) (any, error) {
	a.reply = make(chan any, 1)
	select {
	case r.ask <- a:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.done:
		return nil, errStopped
	}
	select {
	case v := <-a.reply:
		return v, nil
	case <-r.done:
		return nil, errStopped
	}
}

// take returns the statistics changed since the last take, and with full,
// the whole of them as of the same instant.
func (r *recorder) take(ctx context.Context, full bool) (statsTake, error) {
	kind := askTake
	if full {
		kind = askTakeFull
	}
	v, err := r.call(ctx, statsAsk{kind: kind})
	if err != nil {
		return statsTake{}, err
	}
	return v.(statsTake), nil
}
