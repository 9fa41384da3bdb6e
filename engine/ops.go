package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"catfish/channel"
	"catfish/httpapi"
)

// ResetChannel closes a channel's breaker by hand.
func (e *Engine) ResetChannel(ctx context.Context, id string) (httpapi.ChannelView, error) {
	if err := e.lock(ctx); err != nil {
		return httpapi.ChannelView{}, err
	}
	defer e.unlock()
	s, _, ok := e.doc.Get(id)
	if !ok {
		return httpapi.ChannelView{}, channel.ErrNotFound
	}
	h, err := e.actors[id].actor.Reset(ctx)
	if err != nil {
		return httpapi.ChannelView{}, err
	}
	e.router.Relay(h)
	e.log.Info("breaker reset by hand", "channel", id)
	return view(s, h), nil
}

// TestResult is the answer of POST /admin/config/{id}/test.
type TestResult struct {
	OK        bool    `json:"ok"`
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Model     string  `json:"model"`
	Error     string  `json:"error,omitempty"`
	Reply     string  `json:"reply,omitempty"`
	Breaker   string  `json:"breaker"`
}

// testModel is asked for when neither the request nor the channel names one.
const testModel = "gpt-4o-mini"

// TestChannel sends a one-token chat completion through one channel,
// bypassing routing and its breaker. A success closes the breaker.
func (e *Engine) TestChannel(ctx context.Context, id, model string) (any, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	s, _, ok := e.doc.Get(id)
	var a *channel.Actor
	if ok {
		a = e.actors[id].actor
	}
	e.unlock()
	if !ok {
		return nil, channel.ErrNotFound
	}
	r := s.Resolve(e.defaults)
	if model == "" {
		model = cmpOr(r.Model, testModel)
	}
	body, _ := json.Marshal(map[string]any{
		"model":      model,
		"messages":   []map[string]string{{"role": "user", "content": "Reply with one word: ping"}},
		"max_tokens": 1,
	})
	tctx, cancel := context.WithTimeout(ctx, r.FirstByte)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, r.URL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, &channel.FieldError{Field: "url", Msg: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+r.APIKey)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res := TestResult{Model: model}
	resp, err := e.transport.RoundTrip(req)
	if err == nil {
		defer resp.Body.Close()
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		res.Status = resp.StatusCode
		res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
		if err == nil {
			res.OK, res.Reply, res.Error = judgeTest(resp.StatusCode, redactKey(b, r.APIKey))
		}
	}
	if err != nil {
		res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
		res.Error = redactURL(err.Error(), r.URL)
	}
	h, herr := a.Health(ctx)
	if res.OK && herr == nil && h.State != channel.Closed {
		if h, herr = a.Reset(ctx); herr == nil {
			e.router.Relay(h)
		}
	}
	res.Breaker = h.StateAt(time.Now()).String()
	e.log.Info("channel test", "channel", id, "ok", res.OK, "status", res.Status, "latency_ms", res.LatencyMS)
	return res, nil
}

// judgeTest reads a test answer: 2xx with a JSON body without "error" is
// good; anything else yields the upstream's error text.
func judgeTest(status int, body []byte) (ok bool, reply, errText string) {
	var doc struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	jsonErr := json.Unmarshal(body, &doc)
	switch {
	case status >= 200 && status < 300 && jsonErr == nil && doc.Error == nil:
		if len(doc.Choices) > 0 {
			reply = doc.Choices[0].Message.Content
		}
		return true, reply, ""
	case doc.Error != nil && doc.Error.Message != "":
		return false, "", doc.Error.Message
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 500 {
		text = text[:500] + "…"
	}
	if text == "" {
		text = http.StatusText(status)
	}
	return false, "", fmt.Sprintf("HTTP %d: %s", status, text)
}

// redactURL keeps a channel's URL out of an error shown in the admin page's
// shared views and logs; the admin knows which channel it tested.
func redactURL(msg, url string) string {
	return strings.ReplaceAll(msg, url, "<channel url>")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Export returns the whole configuration with keys, in the original's
// config.json layout (scheme → channels), which Import takes back.
func (e *Engine) Export(ctx context.Context) (any, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	return e.doc.SchemesInOrder(), nil
}

// ImportResult reports what an import did (or, dry, would do).
type ImportResult struct {
	DryRun   bool     `json:"dry_run"`
	Mode     string   `json:"mode"`
	Channels int      `json:"channels"`
	Schemes  []string `json:"schemes"`
	Added    int      `json:"added"`
	Updated  int      `json:"updated"`
	Removed  int      `json:"removed"`
}

// Import replaces the configuration with doc (a Catfish export or
// catfishAPIAgg's config.json), or with merge adds and updates channels by
// id and keeps the rest. The whole document is checked first; one bad
// channel rejects it all and nothing changes. A masked key (as GET shows)
// keeps the stored key of the channel with that id.
func (e *Engine) Import(ctx context.Context, doc []byte, dryRun, merge bool) (any, error) {
	incoming, err := parseOriginalConfig(doc)
	if err != nil {
		return nil, &channel.FieldError{Field: "body", Msg: err.Error()}
	}
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	res := ImportResult{DryRun: dryRun, Mode: "replace", Channels: len(incoming)}
	if merge {
		res.Mode = "merge"
	}
	final := map[string]channel.Settings{}
	var order []string
	if merge {
		for _, s := range e.doc.All() {
			final[s.ID] = s
			order = append(order, s.ID)
		}
	}
	for i, s := range incoming {
		old, _, exists := e.doc.Get(s.ID)
		if channel.IsMasked(s.APIKey, old.APIKey) {
			if !exists {
				return nil, &channel.FieldError{Field: "api_key",
					Msg: fmt.Sprintf("channel %d (id %s) has a masked key and no stored channel to take it from", i, s.ID)}
			}
			s.APIKey = old.APIKey
		}
		if exists {
			res.Updated++
		} else {
			res.Added++
		}
		if _, ok := final[s.ID]; !ok {
			order = append(order, s.ID)
		}
		final[s.ID] = s
	}
	if !merge {
		for _, s := range e.doc.All() {
			if _, ok := final[s.ID]; !ok {
				res.Removed++
			}
		}
	}
	list := make([]channel.Settings, 0, len(order))
	schemes := map[string]bool{}
	for _, id := range order {
		list = append(list, final[id])
		schemes[final[id].Scheme] = true
	}
	for name := range schemes {
		res.Schemes = append(res.Schemes, name)
	}
	slices.Sort(res.Schemes)
	if dryRun {
		return res, nil
	}
	removed := []string{}
	for _, s := range e.doc.All() {
		if _, ok := final[s.ID]; !ok {
			removed = append(removed, s.ID)
		}
	}
	if err := e.commit(ctx, recReplace, replacePayload{Channels: list}); err != nil {
		return nil, err
	}
	for _, id := range removed {
		e.stats.call(context.WithoutCancel(ctx), statsAsk{kind: askForget, id: id})
	}
	e.log.Info("configuration imported", "mode", res.Mode, "added", res.Added, "updated", res.Updated, "removed", res.Removed)
	return res, nil
}
