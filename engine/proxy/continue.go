package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
)

// Mid-stream continuation (SPEC 11). A committed stream that breaks while
// the client has only received text goes on on the next channel of the
// plan: a prefill channel gets the request plus an assistant message
// holding the text already sent and its output follows that text; any
// other channel gets the request again, and its text must begin with
// exactly what was sent, which is skipped. Either way the client sees one
// stream: its encoder is resumed where the broken attempt left it.

// transcript is what the client of a committed stream has been sent, in
// the internal form: enough to resume the stream on another channel. It
// keeps each block once, its deltas joined, so it holds about as much as
// the text itself.
type transcript struct {
	start    *dialect.Event
	blocks   []*tblock
	text     strings.Builder // the answer's text
	other    bool            // a block other than text was sent: no continuation
	stopped  bool            // the answer ended
	last     int             // the index of the last block opened
	openText bool            // that block is text and still open
	// seq is the sequence number of the last event a Responses client
	// got from a stream that passed through: the resumed stream numbers
	// its events on from it.
	seq int64
}

type tblock struct {
	start   dialect.Event
	body    strings.Builder
	sig     string
	stopped bool
}

func (t *transcript) add(ev *dialect.Event) {
	switch ev.Kind {
	case dialect.EvStart:
		e := *ev
		t.start = &e
	case dialect.EvBlockStart:
		t.last, t.openText = ev.Index, ev.Block.Kind == dialect.Text
		if !t.openText {
			t.other = true
		}
		t.blocks = append(t.blocks, &tblock{start: *ev})
	case dialect.EvDelta:
		if b := t.block(ev.Index); b != nil {
			b.body.WriteString(ev.Text)
		}
		if t.openText && ev.Index == t.last {
			t.text.WriteString(ev.Text)
		}
	case dialect.EvSignature:
		t.other = true
		if b := t.block(ev.Index); b != nil {
			b.sig += ev.Text
		}
	case dialect.EvBlockStop:
		if b := t.block(ev.Index); b != nil {
			b.stopped = true
		}
		if ev.Index == t.last {
			t.openText = false
		}
	case dialect.EvStop:
		t.stopped = true
	case dialect.EvOpaque:
		t.other = true // the client has what an encoder could not write again
	}
}

func (t *transcript) block(i int) *tblock {
	for j := len(t.blocks) - 1; j >= 0; j-- {
		if t.blocks[j].start.Index == i {
			return t.blocks[j]
		}
	}
	return nil
}

// replay encodes what the client was sent into enc, discarding the
// bytes: enc then stands where the client's stream stands.
func (t *transcript) replay(enc dialect.Encoder) {
	var sink []byte
	if t.start != nil {
		sink = enc.Encode(sink[:0], t.start)
	}
	for _, b := range t.blocks {
		sink = enc.Encode(sink[:0], &b.start)
		if b.body.Len() > 0 {
			sink = enc.Encode(sink[:0], &dialect.Event{Kind: dialect.EvDelta, Index: b.start.Index, Text: b.body.String()})
		}
		if b.sig != "" {
			sink = enc.Encode(sink[:0], &dialect.Event{Kind: dialect.EvSignature, Index: b.start.Index, Text: b.sig})
		}
		if b.stopped {
			sink = enc.Encode(sink[:0], &dialect.Event{Kind: dialect.EvBlockStop, Index: b.start.Index})
		}
	}
	dialect.ResumeAfter(enc, t.seq)
}

// continuable reports whether the client has only received text of an
// answer that has not ended.
func (t *transcript) continuable() bool { return !t.other && !t.stopped }

// shadow follows a stream that passes through untouched, decoding it on
// the side so that, should it break, the client's stream can be resumed
// through an encoder.
type shadow struct {
	dec dialect.Decoder
	evs []dialect.Event
	tr  transcript
	bad bool // the decoder could not follow: no continuation
}

func (s *shadow) feed(name, data []byte) {
	if s == nil || s.bad {
		return
	}
	evs, err := s.dec.Decode(name, data, s.evs[:0])
	s.evs = evs
	if err != nil {
		s.bad = true
		return
	}
	for i := range evs {
		if evs[i].Kind == dialect.EvStart {
			evs[i].KeepID = true // the client has the upstream's own id
		}
		s.tr.add(&evs[i])
	}
}

func (s *shadow) transcript() *transcript {
	if s == nil || s.bad {
		return nil
	}
	return &s.tr
}

// continuation is a broken stream on its way to another channel.
type continuation struct {
	tr       *transcript
	enc      dialect.Encoder // the client's stream, where the break left it
	base     dialect.Usage   // the tokens of the attempts so far
	reason   *dialect.Error  // why it broke: the client's error if nothing takes over
	broken   result          // the attempt whose stream broke
	deadline time.Time
	tries    int
	limit    int // MaxContinuations
	// suspect is a channel whose 400 to a prefill is being checked by a
	// restart: when the restart is accepted, the prefill was the cause.
	suspect string
}

// mayContinue reports whether a stream that broke after commit may go on
// elsewhere: continuation is on and the client has only received text.
func (x *exchange) mayContinue(tr *transcript) bool {
	return x.p.cfg.Continuation && x.p.cfg.MaxContinuations > 0 && tr != nil && tr.continuable() &&
		x.ctx.Err() == nil
}

// breakForContinuation turns a stream that broke after commit into a
// continuation: nothing more is written to the client now; the next
// channel of the plan takes over.
func (x *exchange) breakForContinuation(res result, s streamer, tr *transcript, reason *dialect.Error) result {
	enc := s.encoder()
	if enc == nil {
		// A passthrough stream: an encoder for the client's dialect
		// replays what was sent, so its state matches the client's.
		enc = dialect.NewEncoder(x.req.Dialect, x.encoderRequest())
		tr.replay(enc)
	}
	res.usage = s.usage()
	res.verdict, res.next = channel.Failure, stepNext
	base := res.usage
	if x.cont != nil {
		base.Add(x.cont.base)
	}
	x.cont = &continuation{tr: tr, enc: enc, base: base, reason: reason, broken: res,
		deadline: time.Now().Add(x.p.cfg.ContinueTimeout), limit: x.p.cfg.MaxContinuations}
	x.p.log.Info("stream broke after commit; continuing on the next channel", "id", x.id,
		"channel", x.currentChannel(), "outcome", res.outcome, "text_sent", tr.text.Len())
	return res
}

// encoderRequest is the request an encoder for the client needs: the
// decoded one, or for a chat passthrough, what its usage chunk depends on.
func (x *exchange) encoderRequest() *dialect.Request {
	if x.ir != nil {
		return x.ir
	}
	return &dialect.Request{Model: x.req.Info.Model, Stream: true, IncludeUsage: x.req.Info.IncludeUsage}
}

// giveUp ends a continuation that found no channel: the client's stream
// ends with its dialect's error, as a break without continuation would.
func (x *exchange) giveUp() {
	c := x.cont
	x.cont = nil
	rc := http.NewResponseController(x.w)
	if _, err := x.w.Write(c.enc.Fail(nil, c.reason)); err == nil {
		rc.Flush()
	}
	res := c.broken
	res.next = stepDone
	x.answered = &res
}

// continuationBody is the request a continuation sends on route rt:
// with prefill, the request plus an assistant message holding the text
// already sent (its trailing whitespace trimmed: Anthropic refuses a
// prefill that ends in whitespace); without, the request again.
func (x *exchange) continuationBody(rt route, model string, prefill bool) ([]byte, error) {
	if !prefill {
		if rt.through {
			return x.upstreamBody(model), nil
		}
		return x.translatedBody(rt.up, model)
	}
	if model == "" {
		model = x.req.Info.Model
	}
	if x.ir == nil {
		ir, err := dialect.DecodeRequest(x.req.Dialect, x.req.Body)
		if err != nil {
			return nil, err
		}
		x.ir = ir
	}
	r := *x.ir
	if x.sent != nil {
		r = *x.sent
	}
	r.Stream = true
	r.Messages = append(r.Messages[:len(r.Messages):len(r.Messages)], dialect.Message{Role: dialect.Assistant,
		Content: []dialect.Block{{Kind: dialect.Text, Text: strings.TrimRight(x.cont.tr.text.String(), " \t\r\n")}}})
	return dialect.EncodeRequest(rt.up, &r, model)
}

// errDiverged: a restarted answer did not begin with the text the client
// already has.
var errDiverged = &dialect.Error{Status: http.StatusBadGateway, Type: "upstream_error", Code: "stream_broken",
	Message: "the upstream stream broke and the answer could not be continued elsewhere"}

// continued splices a continuation's stream into the client's: the new
// channel's events are decoded, the part the client already has is
// skipped (restart) or the output is taken as following it (prefill),
// and the rest is encoded by the client's resumed encoder, as blocks of
// the answer it has been reading.
type continued struct {
	c    *continuation
	dec  dialect.Decoder
	evs  []dialect.Event
	skip string // restart: the client's text still to be matched
	// join is the whitespace trimmed off the end of a prefill: the
	// client has it, so a continuation that starts with it drops it.
	join     string
	index    map[int]int // the new stream's block index → the client's
	dropped  map[int]bool
	relayed  bool // text went out: the continuation is under way
	done     bool
	u        dialect.Usage
	textOpen int // the new stream's index of the text block being spliced, or -1
}

func newContinued(c *continuation, up dialect.Dialect, prefill bool) *continued {
	s := &continued{c: c, dec: dialect.NewDecoder(up), index: map[int]int{}, dropped: map[int]bool{}, textOpen: -1}
	text := c.tr.text.String()
	if prefill {
		s.join = text[len(strings.TrimRight(text, " \t\r\n")):]
	} else {
		s.skip = text
	}
	return s
}

// feed handles one event of the continuation's stream.
func (s *continued) feed(name, data, out []byte) ([]byte, bool, error) {
	evs, err := s.dec.Decode(name, data, s.evs[:0])
	s.evs = evs
	if err != nil {
		var de *dialect.Error
		if errors.As(err, &de) {
			return out, false, de
		}
		return out, false, errMalformed
	}
	for i := range evs {
		if out, err = s.splice(out, &evs[i]); err != nil {
			return out, false, err
		}
	}
	return out, s.relayed, nil
}

// splice maps one event of the new stream onto the client's.
func (s *continued) splice(out []byte, ev *dialect.Event) ([]byte, error) {
	tr := s.c.tr
	switch ev.Kind {
	case dialect.EvStart:
		return out, nil // the client's stream has begun already
	case dialect.EvBlockStart:
		switch {
		case ev.Block.Kind == dialect.Text && s.textOpen < 0 && (tr.openText || !s.relayed):
			// The text that goes on from the client's: into its open
			// block, or a new one if the break closed it.
			s.textOpen = ev.Index
			if tr.openText {
				s.index[ev.Index] = tr.last
				return out, nil
			}
		case ev.Block.Kind == dialect.Thinking || ev.Block.Kind == dialect.RedactedThinking:
			s.dropped[ev.Index] = true // reasoning before the text is not the client's answer
			return out, nil
		case s.skip != "":
			return out, errDiverged // a tool call where the sent text should be
		}
		n := *ev
		n.Index, n.Item = tr.last+1, "" // the new stream's item ids are not the client's
		s.index[ev.Index] = n.Index
		return s.emit(out, &n), nil
	case dialect.EvDelta:
		if s.dropped[ev.Index] {
			return out, nil
		}
		text := ev.Text
		if ev.Index == s.textOpen {
			var ok bool
			if text, ok = s.consume(text); !ok {
				return out, errDiverged
			}
			if text == "" {
				return out, nil
			}
			s.relayed = true
		}
		n := *ev
		n.Index, n.Text = s.mapped(ev.Index), text
		return s.emit(out, &n), nil
	case dialect.EvSignature:
		return out, nil
	case dialect.EvBlockStop:
		if s.dropped[ev.Index] {
			return out, nil
		}
		if ev.Index == s.textOpen && s.skip != "" {
			return out, errDiverged // the restarted text ended short of the sent text
		}
		n := *ev
		n.Index = s.mapped(ev.Index)
		return s.emit(out, &n), nil
	case dialect.EvUsage:
		s.u = ev.Usage
		return out, nil
	case dialect.EvStop:
		if s.skip != "" {
			return out, errDiverged
		}
		s.u, s.done = ev.Usage, true
		n := *ev
		n.Usage = s.c.base
		n.Usage.Add(ev.Usage)
		return s.emit(out, &n), nil
	}
	return out, nil
}

// consume takes a text delta of the continuing block: a restart's delta
// is matched against the text the client has and only what goes beyond
// it is kept; a prefill's first delta loses the whitespace the client
// already has.
func (s *continued) consume(text string) (string, bool) {
	if s.skip != "" {
		switch {
		case strings.HasPrefix(s.skip, text):
			s.skip = s.skip[len(text):]
			return "", true
		case strings.HasPrefix(text, s.skip):
			text, s.skip = text[len(s.skip):], ""
		default:
			return "", false
		}
	}
	if s.join != "" && !s.relayed {
		n := 0
		for n < len(s.join) && n < len(text) && s.join[n] == text[n] {
			n++
		}
		if n > 0 || len(text) > 0 {
			text, s.join = text[n:], ""
		}
	}
	return text, true
}

func (s *continued) mapped(i int) int {
	if j, ok := s.index[i]; ok {
		return j
	}
	return i
}

// emit encodes an event for the client and keeps it in the transcript,
// so that a later break can be continued again.
func (s *continued) emit(out []byte, ev *dialect.Event) []byte {
	s.c.tr.add(ev)
	return s.c.enc.Encode(out, ev)
}

func (s *continued) ended() bool { return s.done }

func (s *continued) finish(out []byte) ([]byte, error) {
	if s.done {
		return out, nil
	}
	evs, err := s.dec.End(s.evs[:0])
	s.evs = evs
	if err != nil {
		return out, err
	}
	for i := range evs {
		if out, err = s.splice(out, &evs[i]); err != nil {
			return out, err
		}
	}
	if !s.done {
		return out, dialect.ErrIncomplete
	}
	return out, nil
}

func (s *continued) fail(out []byte, e *dialect.Error) []byte { return s.c.enc.Fail(out, e) }

func (s *continued) usage() dialect.Usage { return s.u }

func (s *continued) encoder() dialect.Encoder { return s.c.enc }

func (s *continued) transcript() *transcript { return s.c.tr }

// resume relays a continuation's stream into the client's, which is
// already open: no headers, no commit. Until the continuation relays its
// first new text it may still fail quietly (the next channel is tried);
// after that a break is treated as any break after commit.
func (a *upstreamAnswer) resume(s *continued) result {
	x := a.x
	sr := x.p.relays.Get().(*streamRelay)
	sr.br.Reset(a.resp.Body)
	sr.sse.Reset(sr.br)
	defer func() {
		sr.br.Reset(nil)
		x.p.relays.Put(sr)
	}()
	out := sr.out[:0]
	defer func() { sr.out = out[:0] }()
	rc := http.NewResponseController(x.w)
	// committed stays false: a continuation's channel is told its verdict
	// when the attempt ends (there was no commit to tell it at).
	res := result{outcome: "continued", status: a.resp.StatusCode, verdict: channel.Success, next: stepDone}
	quiet := func(outcome string, err error) result {
		// Nothing new reached the client: another channel may try. The
		// error's text is not logged: an upstream's may echo its key.
		x.p.log.Warn("continuation failed before relaying", "id", x.id, "channel", x.currentChannel(),
			"outcome", outcome, "kind", breakKind(err))
		return result{outcome: outcome, status: a.resp.StatusCode, verdict: channel.Failure, next: stepNext,
			usage: s.usage()}
	}
	for !s.done {
		if s.relayed {
			a.dog.kick()
		}
		ev, err := sr.sse.Next()
		if err != nil {
			if x.ctx.Err() != nil {
				return a.goneDuringContinuation(res, s)
			}
			if errors.Is(err, io.EOF) {
				if out, ferr := s.finish(out[:0]); ferr == nil {
					if !a.write(rc, out) {
						return a.goneDuringContinuation(res, s)
					}
					break
				} else if errors.Is(ferr, errDiverged) {
					return a.diverged(s, rc)
				}
			}
			if !s.relayed {
				return quiet("continue_broken", err)
			}
			return a.brokenAgain(res, s, err)
		}
		if ev.Comment {
			continue
		}
		var perr error
		out, _, perr = s.feed(ev.Name, ev.Data, out[:0])
		switch {
		case errors.Is(perr, errMalformed):
			x.p.log.Warn("dropped a malformed stream event", "channel", x.currentChannel())
			continue
		case errors.Is(perr, errDiverged):
			a.write(rc, out)
			return a.diverged(s, rc)
		case perr != nil:
			if !s.relayed {
				return quiet("continue_error", perr)
			}
			a.write(rc, out)
			return a.brokenAgain(res, s, perr)
		}
		if !a.write(rc, out) {
			return a.goneDuringContinuation(res, s)
		}
	}
	res.usage = s.usage()
	x.cont = nil
	return res
}

// goneDuringContinuation ends a continuation whose client left.
func (a *upstreamAnswer) goneDuringContinuation(res result, s *continued) result {
	a.x.cont = nil
	res = a.x.goneAfterCommit(res, s)
	res.committed = false // the channel is told: neutral
	return res
}

// diverged ends the client's stream: the restarted answer did not match
// what the client has.
func (a *upstreamAnswer) diverged(s *continued, rc *http.ResponseController) result {
	a.write(rc, s.fail(nil, errDiverged))
	a.x.cont = nil
	a.x.p.log.Warn("continuation diverged from the text already sent", "id", a.x.id, "channel", a.x.currentChannel())
	return result{outcome: "continue_diverged", status: a.resp.StatusCode, verdict: channel.Neutral, next: stepDone,
		usage: s.usage()}
}

// brokenAgain is a continuation that broke after relaying text: it may be
// continued in turn while continuations are left.
func (a *upstreamAnswer) brokenAgain(res result, s *continued, err error) result {
	x := a.x
	res.outcome = "continue_broken"
	reason := dialect.Errorf(http.StatusBadGateway, "upstream_error", "stream_broken",
		"the upstream stream ended before the answer was complete")
	if x.mayContinue(s.c.tr) && x.cont.tries < x.p.cfg.MaxContinuations {
		cont := x.cont
		res = x.breakForContinuation(res, s, s.c.tr, reason)
		x.cont.tries = cont.tries
		return res
	}
	a.write(http.NewResponseController(x.w), s.fail(nil, reason))
	x.cont = nil
	res.verdict, res.usage = channel.Failure, s.usage()
	_ = err
	return res
}

// attemptMode is how an attempt asks its channel.
type attemptMode uint8

const (
	modeNormal  attemptMode = iota // the client's request
	modePrefill                    // continuation: the request plus the text sent, as an assistant prefill
	modeRestart                    // continuation: the request again, its answer matched against the text sent
)

// modeFor picks how to ask a channel on route rt: normally, or during a
// continuation with a prefill where the channel takes one (and did not
// just refuse it: after a refused prefill, the restart on the same
// channel). A Responses route restarts whatever the channel says: the
// request passes through as the client wrote it (Catfish writes no
// Responses requests), and the Responses API continues no assistant
// message anyway.
func (x *exchange) modeFor(s *channel.Resolved, rt route) attemptMode {
	switch {
	case x.cont == nil:
		return modeNormal
	case s.Prefill && x.cont.suspect != s.ID && rt.up != dialect.Responses:
		return modePrefill
	}
	return modeRestart
}

// open reports whether the continuation may try another channel.
func (c *continuation) open() bool {
	return c.tries < maxTries(c) && time.Now().Before(c.deadline)
}

func maxTries(c *continuation) int { return c.limit }

// continuation reads the answer to a continuation request.
func (a *upstreamAnswer) continuation(c *channel.Actor, mode attemptMode) result {
	x := a.x
	cont := x.cont
	if mode == modePrefill || cont.suspect != c.ID() {
		cont.tries++
	}
	status := a.resp.StatusCode
	switch {
	case mode == modePrefill && status == http.StatusBadRequest:
		// Perhaps the channel refuses an assistant prefill: ask it again
		// without one; if that is accepted, the prefill was the cause.
		a.readAll(maxErrorBody, true)
		cont.suspect = c.ID()
		return result{outcome: "prefill_refused", status: status, verdict: channel.Neutral, next: stepAgain}
	case status < 200 || status > 299:
		res := a.failure()
		if res.next == stepDone {
			res.next = stepNext // the request is no less the client's; another channel may take it
		}
		return res
	case !isEventStream(a.resp.Header):
		return result{outcome: "continue_bad_answer", status: status, verdict: channel.Failure, next: stepNext}
	}
	res := a.resume(newContinued(cont, a.rt.up, mode == modePrefill))
	if mode == modeRestart && cont.suspect == c.ID() && res.next == stepDone {
		res.noPrefill = true // the restart was accepted where the prefill was not
	}
	return res
}
