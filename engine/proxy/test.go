package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"catfish/channel"
)

// Test sends a one-token chat completion through one channel, bypassing
// routing and its breaker, and reports what came back. model names the
// model to ask for; the caller picks it (the channel's override, else
// the model real traffic sends it: its scheme's name).
func (p *Proxy) Test(ctx context.Context, s channel.Resolved, model string) channel.TestResult {
	body, _ := json.Marshal(map[string]any{
		"model":      model,
		"messages":   []map[string]string{{"role": "user", "content": "Reply with one word: ping"}},
		"max_tokens": 1,
	})
	tctx, cancel := context.WithTimeout(ctx, s.FirstByte)
	defer cancel()
	res := channel.TestResult{Model: model}
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, s.URL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		res.Error = "bad channel URL"
		return res
	}
	req.Header.Set("Authorization", "Bearer "+s.APIKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HopHeader, p.cfg.Instance)
	start := time.Now()
	resp, err := p.transport.RoundTrip(req)
	if err == nil {
		defer resp.Body.Close()
		gunzip(resp)
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		res.Status = resp.StatusCode
		if err == nil {
			res.OK, res.Reply, res.Error = judgeTest(resp.StatusCode, redactKey(b, s.APIKey))
			// And on the decoded text, whatever escapes the body used.
			res.Reply, res.Error = redactKeyString(res.Reply, s.APIKey), redactKeyString(res.Error, s.APIKey)
		}
	}
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		res.Error = strings.ReplaceAll(err.Error(), s.URL, "<channel url>")
	}
	return res
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
