package stats

import (
	"context"
	"errors"
	"time"
)

// ErrStopped is returned by calls to the recorder after it stopped.
var ErrStopped = errors.New("statistics recorder stopped")

// Recent is one entry of the recent-requests list the admin page shows:
// the attempt chain of one client request.
type Recent struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Path       string    `json:"path"`
	Dialect    string    `json:"dialect"`
	Model      string    `json:"model"`
	Scheme     string    `json:"scheme"`
	Key        string    `json:"key"` // the client key's name; "admin" for ADMIN_KEY
	Stream     bool      `json:"stream"`
	Status     int       `json:"status"`
	Outcome    string    `json:"outcome"`
	DurationMS int64     `json:"duration_ms"`
	Attempts   []Attempt `json:"attempts"`
	ChannelID  string    `json:"channel_id,omitempty"`
	Tokens     Tokens    `json:"tokens"`
}

// Take is what the flusher takes: the changes since last time, and when
// asked, everything (for a snapshot) as of the same moment.
type Take struct {
	Delta *Doc // nil: nothing changed
	Full  *Doc
}

type queryKind uint8

const (
	qView queryKind = iota
	qTake
	qTakeFull
	qRecent
	qForget
	qMetrics
)

// query is a question to the loop; reply has capacity 1.
type query struct {
	kind  queryKind
	id    string // qForget
	reply chan answer
}

// answer carries the one field its query asked for; every value is a
// copy the loop no longer touches.
type answer struct {
	view    *View
	take    Take
	recent  []Recent
	metrics *MetricsView
}

// Recorder is the statistics actor. It owns the Stats value and the ring
// of recent requests.
type Recorder struct {
	// in: request goroutines → loop, one record per finished request.
	// Buffered, so a burst of finishing requests never waits for the loop;
	// when it is full, senders wait (bounded by the loop's speed).
	in chan *Record
	// queries: the admin API, /metrics and the flusher → loop; answered
	// at once, after the records already waiting in `in` (so the final
	// snapshot holds every request that finished before it).
	queries chan query
	// done is closed when the loop exits.
	done chan struct{}

	// Loop-owned.
	stats  *Stats
	recent []Recent // circular
	next   int      // next slot in recent
	full   bool
}

// NewRecorder returns a recorder owning s that keeps the newest
// keepRecent requests.
func NewRecorder(s *Stats, keepRecent int) *Recorder {
	return &Recorder{
		in:      make(chan *Record, 4096),
		queries: make(chan query),
		done:    make(chan struct{}),
		stats:   s,
		recent:  make([]Recent, keepRecent),
	}
}

// Run is the loop. Before it returns it drains records already sent, so a
// graceful shutdown loses no count.
func (r *Recorder) Run(ctx context.Context) {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			r.drain()
			return
		case rec := <-r.in:
			r.onRecord(rec)
		case q := <-r.queries:
			r.drain()
			q.reply <- r.onQuery(q)
		}
	}
}

// drain counts every record already waiting.
func (r *Recorder) drain() {
	for {
		select {
		case rec := <-r.in:
			r.onRecord(rec)
		default:
			return
		}
	}
}

func (r *Recorder) onRecord(rec *Record) {
	r.stats.record(rec)
	if len(r.recent) == 0 {
		return
	}
	r.recent[r.next] = Recent{ID: rec.ID, Time: rec.Start, Path: rec.Path, Dialect: rec.Dialect, Model: rec.Model, Scheme: rec.Scheme, Key: rec.Key,
		Stream: rec.Stream, Status: rec.Status, Outcome: rec.Outcome, DurationMS: rec.End.Sub(rec.Start).Milliseconds(),
		Attempts: rec.Attempts, ChannelID: rec.Answered,
		Tokens: Tokens{Prompt: rec.Usage.Prompt, Completion: rec.Usage.Completion, Total: rec.Usage.Total}}
	r.next = (r.next + 1) % len(r.recent)
	if r.next == 0 {
		r.full = true
	}
}

func (r *Recorder) onQuery(q query) answer {
	switch q.kind {
	case qView:
		return answer{view: r.stats.view(time.Now())}
	case qTake:
		return answer{take: Take{Delta: r.stats.takeDelta()}}
	case qTakeFull:
		return answer{take: Take{Delta: r.stats.takeDelta(), Full: r.stats.Doc()}}
	case qRecent:
		return answer{recent: r.recentCopy()}
	case qForget:
		r.stats.Forget(q.id)
	case qMetrics:
		return answer{metrics: r.stats.metricsView()}
	}
	return answer{}
}

// recentCopy returns the ring oldest first. Attempt slices are never
// changed after a record is sent, so sharing them is safe.
func (r *Recorder) recentCopy() []Recent {
	if !r.full {
		// Never nil: the admin page gets [] rather than null.
		return append([]Recent{}, r.recent[:r.next]...)
	}
	out := make([]Recent, 0, len(r.recent))
	out = append(out, r.recent[r.next:]...)
	return append(out, r.recent[:r.next]...)
}

// Record hands a finished request to the loop.
func (r *Recorder) Record(rec *Record) {
	select {
	case r.in <- rec:
	case <-r.done:
	}
}

func (r *Recorder) ask(ctx context.Context, kind queryKind, id string) (answer, error) {
	q := query{kind: kind, id: id, reply: make(chan answer, 1)}
	select {
	case r.queries <- q:
	case <-ctx.Done():
		return answer{}, ctx.Err()
	case <-r.done:
		return answer{}, ErrStopped
	}
	select {
	case a := <-q.reply:
		return a, nil
	case <-r.done:
		return answer{}, ErrStopped
	}
}

// View returns the statistics as /admin/stats shows them (without the
// breakers, which the channel actors own: see View.AttachBreakers).
func (r *Recorder) View(ctx context.Context) (*View, error) {
	a, err := r.ask(ctx, qView, "")
	return a.view, err
}

// Recent returns the recent requests, oldest first.
func (r *Recorder) Recent(ctx context.Context) ([]Recent, error) {
	a, err := r.ask(ctx, qRecent, "")
	return a.recent, err
}

// Take returns the statistics changed since the last take, and with full,
// the whole of them as of the same instant.
func (r *Recorder) Take(ctx context.Context, full bool) (Take, error) {
	kind := qTake
	if full {
		kind = qTakeFull
	}
	a, err := r.ask(ctx, kind, "")
	return a.take, err
}

// Forget drops a deleted channel's statistics.
func (r *Recorder) Forget(ctx context.Context, id string) error {
	_, err := r.ask(ctx, qForget, id)
	return err
}

// Metrics returns a copy of the counters /metrics reports.
func (r *Recorder) Metrics(ctx context.Context) (*MetricsView, error) {
	a, err := r.ask(ctx, qMetrics, "")
	return a.metrics, err
}
