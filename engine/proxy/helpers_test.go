package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"catfish/engine/dialect"
)

func TestHasFinishReason(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{`{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`, false},
		{`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, true},
		{`{"choices":[{"finish_reason" : "length"}]}`, true},
		{"{\"choices\":[{\"finish_reason\"\t:\n\"tool_calls\"}]}", true},
		{`{"choices":[{"finish_reason":  null }]}`, false},
		{`{"choices":[{"finish_reason":"content_filter"}]}`, true},
		{`{"choices":[{"finish_reason":null},{"finish_reason":"stop"}]}`, true},
		{`{"choices":[{"delta":{"content":"{\"finish_reason\":\"stop\"}"},"finish_reason":null}]}`, false},
		{`{"choices":[{"delta":{"content":"finish_reason"},"x":"\"finish_reason\": 1"}]}`, false},
		{`{"choices":[{"delta":{"finish_reason_x":"stop"}}]}`, false},
		{`{"choices":[{"delta":{"content":"hi"}}]}`, false},
		{`{"finish_reason"`, false},
		{`{"finish_reason":`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := hasFinishReason([]byte(tt.data)); got != tt.want {
			t.Errorf("hasFinishReason(%s) = %v, want %v", tt.data, got, tt.want)
		}
	}
}

func TestCutMember(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"end", `{"id":"c","choices":[{"delta":{}}],"usage":null}`, `{"id":"c","choices":[{"delta":{}}]}`},
		{"beginning", `{"usage":null,"id":"c"}`, `{"id":"c"}`},
		{"middle", `{"a":1,"usage":null,"b":2}`, `{"a":1,"b":2}`},
		{"only member", `{"usage":null}`, `{}`},
		{"spaces, middle", `{"a":1, "usage" : null ,"b":2}`, `{"a":1 ,"b":2}`},
		{"spaces, beginning", `{ "usage":null , "a":1}`, `{ "a":1}`},
		{"pretty", "{\n  \"a\": 1,\n  \"usage\": null\n}", "{\n  \"a\": 1\n}"},
		{"object value", `{"a":[1,2],"usage":{"total_tokens":3},"b":"x"}`, `{"a":[1,2],"b":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			info, err := dialect.ScanObject(in)
			if err != nil || !info.UsageMember.Present() {
				t.Fatalf("ScanObject: %v, UsageMember %v", err, info.UsageMember)
			}
			got := cutMember(nil, in, info.UsageMember)
			if string(got) != tt.want {
				t.Errorf("cutMember = %q, want %q", got, tt.want)
			}
			if string(in) != tt.in {
				t.Errorf("cutMember changed its input to %q", in)
			}
			if !json.Valid(got) {
				t.Errorf("result %q is not valid JSON", got)
			}
		})
	}
}

func TestIsDone(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{"[DONE]", true},
		{" [DONE] ", true},
		{"[DONE]\n", true},
		{"[done]", false},
		{"[DONE", false},
		{"", false},
		{`"[DONE]"`, false},
		{`{"content":"[DONE]"}`, false},
	}
	for _, tt := range tests {
		if got := isDone([]byte(tt.data)); got != tt.want {
			t.Errorf("isDone(%q) = %v, want %v", tt.data, got, tt.want)
		}
	}
}

func TestWithIncludeUsage(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string // exact output; "" = only check the meaning
		wantOK bool
	}{
		{"appended", `{"model":"m","stream":true}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, true},
		{"appended before trailing space", "{\"model\":\"m\",\"stream\":true}\n", "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}\n", true},
		{"appended after a nested object", `{"model":"m","messages":[{"role":"user","content":"}"}]}`, `{"model":"m","messages":[{"role":"user","content":"}"}],"stream_options":{"include_usage":true}}`, true},
		{"null rewritten", `{"model":"m","stream_options":null,"stream":true}`, `{"model":"m","stream_options":{"include_usage":true},"stream":true}`, true},
		{"false rewritten", `{"model":"m","stream_options":{"include_usage":false},"stream":true}`, `{"model":"m","stream_options":{"include_usage":true},"stream":true}`, true},
		{"other keys kept", `{"model":"m","stream_options":{"include_obfuscation":false},"stream":true}`, "", true},
		{"empty object", `{"model":"m","stream_options":{},"stream":true}`, `{"model":"m","stream_options":{"include_usage":true},"stream":true}`, true},
		{"string refused", `{"model":"m","stream_options":"yes"}`, "", false},
		{"array refused", `{"model":"m","stream_options":[]}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			info, err := dialect.ScanObject(in)
			if err != nil {
				t.Fatal(err)
			}
			out, ok := withIncludeUsage(in, &info)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (out %q)", ok, tt.wantOK, out)
			}
			if string(in) != tt.in {
				t.Errorf("withIncludeUsage changed its input to %q", in)
			}
			if !ok {
				return
			}
			if tt.want != "" && string(out) != tt.want {
				t.Errorf("out = %q, want %q", out, tt.want)
			}
			info2, err := dialect.ScanObject(out)
			if err != nil {
				t.Fatalf("result %q: %v", out, err)
			}
			if !info2.IncludeUsage {
				t.Errorf("result %q: include_usage is not true", out)
			}
			// Everything but stream_options means what it meant.
			var before, after map[string]json.RawMessage
			json.Unmarshal(in, &before)
			json.Unmarshal(out, &after)
			var soBefore, soAfter map[string]any
			json.Unmarshal(before["stream_options"], &soBefore)
			json.Unmarshal(after["stream_options"], &soAfter)
			delete(before, "stream_options")
			delete(after, "stream_options")
			if !reflect.DeepEqual(before, after) {
				t.Errorf("other members changed:\n before %s\n after  %s", in, out)
			}
			for k, v := range soBefore {
				if k != "include_usage" && !reflect.DeepEqual(soAfter[k], v) {
					t.Errorf("stream_options.%s = %v, want %v kept", k, soAfter[k], v)
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		h      http.Header
		want   time.Duration
		wantOK bool
	}{
		{"absent", h(), 0, false},
		{"seconds", h("Retry-After", "5"), 5 * time.Second, true},
		{"zero", h("Retry-After", "0"), 0, true},
		{"fractional", h("Retry-After", "1.5"), 1500 * time.Millisecond, true},
		{"spaces", h("Retry-After", " 7 "), 7 * time.Second, true},
		{"large", h("Retry-After", "86400"), 24 * time.Hour, true},
		{"HTTP date", h("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat)), 30 * time.Second, true},
		{"RFC 850 date", h("Retry-After", now.Add(time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT")), time.Minute, true},
		{"date in the past", h("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), 0, true},
		{"negative", h("Retry-After", "-3"), 0, false},
		{"garbage", h("Retry-After", "soon"), 0, false},
		{"NaN", h("Retry-After", "NaN"), 0, false},
		{"empty", h("Retry-After", ""), 0, false},
		{"milliseconds", h("Retry-After-Ms", "250"), 250 * time.Millisecond, true},
		{"fractional milliseconds", h("Retry-After-Ms", "1.5"), 1500 * time.Microsecond, true},
		{"milliseconds win", h("Retry-After-Ms", "100", "Retry-After", "3"), 100 * time.Millisecond, true},
		{"bad milliseconds fall back", h("Retry-After-Ms", "x", "Retry-After", "3"), 3 * time.Second, true},
		{"negative milliseconds fall back", h("Retry-After-Ms", "-1", "Retry-After", "2"), 2 * time.Second, true},
		{"bad milliseconds alone", h("Retry-After-Ms", "x"), 0, false},
		{"lower-case name", http.Header{"Retry-After": {"4"}}, 4 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := retryAfter(tt.h, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("retryAfter(%v) = %v, %v; want %v, %v", tt.h, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// retryAfter converts any non-negative float to a Duration. Past about 292
// years ("1e10", "1e300", "inf", "Infinity") the float-to-int64 conversion
// overflows; on amd64 it yields math.MinInt64, a negative wait reported as
// ok. failure() then takes it as "short enough to honour" (ra <=
// RetryAfterMax) and backoff() treats wait <= 0 as "use the exponential
// backoff": a 429 that asks to be left alone for ever is retried at once
// instead of opening the breaker.
func TestRetryAfterHugeValueIsNotNegative(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"1e10", "1e300", "inf", "Infinity"} {
		for _, name := range []string{"Retry-After", "Retry-After-Ms"} {
			h := http.Header{}
			h.Set(name, v)
			if got, ok := retryAfter(h, now); ok && got < time.Hour {
				t.Errorf("%s: %s gives %v, ok; want a long wait or not ok", name, v, got)
			}
		}
	}
}

func TestIsContextLength(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`, true},
		{`{"error":{"message":"too long","type":"context_length_exceeded","code":null}}`, true},
		{`{"error":{"message":"Error code: context_length_exceeded (prompt has 9000 tokens)","code":400}}`, true},
		{`{"error":{"message":"Your request was rejected","type":"invalid_request_error","code":"content_policy_violation"}}`, false},
		{`{"error":{"message":"bad","code":400}}`, false},
		{`{"error":null}`, false},
		{`{}`, false},
		{`context_length_exceeded`, false},
		{`<html>context_length_exceeded</html>`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := isContextLength([]byte(tt.body)); got != tt.want {
			t.Errorf("isContextLength(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestForwardHeaders(t *testing.T) {
	in := http.Header{}
	for k, v := range map[string]string{
		// dropped
		"Authorization":       "Bearer client-key",
		"Cookie":              "session=1",
		"Host":                "catfish.local",
		"Content-Length":      "123",
		"Connection":          "keep-alive, X-Custom-Hop , x-other-hop",
		"Keep-Alive":          "timeout=5",
		"Proxy-Authorization": "Basic x",
		"Proxy-Connection":    "keep-alive",
		"Te":                  "trailers",
		"Trailer":             "X-T",
		"Transfer-Encoding":   "chunked",
		"Upgrade":             "h2c",
		"Accept-Encoding":     "gzip",
		"X-Api-Key":           "k",
		"Api-Key":             "k",
		"Forwarded":           "for=1.2.3.4",
		"X-Forwarded-For":     "1.2.3.4",
		"X-Forwarded-Host":    "h",
		"X-Forwarded-Proto":   "https",
		"X-Real-Ip":           "1.2.3.4",
		"X-Catfish-Attempts":  "spoofed",
		"x-catfish-debug":     "1",
		"X-Custom-Hop":        "1",
		"X-Other-Hop":         "1",
		// kept
		"OpenAI-Beta":         "assistants=v2",
		"OpenAI-Organization": "org-1",
		"User-Agent":          "OpenAI/Python 1.50.0",
		"Content-Type":        "application/json",
		"Accept":              "text/event-stream",
		"X-Stainless-Lang":    "python",
		"Anthropic-Version":   "2023-06-01",
		"X-Request-Id":        "abc",
	} {
		in.Set(k, v)
	}
	in.Add("User-Agent", "second value")
	snapshot := in.Clone()

	out := forwardHeaders(in)

	want := http.Header{
		"Openai-Beta":         {"assistants=v2"},
		"Openai-Organization": {"org-1"},
		"User-Agent":          {"OpenAI/Python 1.50.0", "second value"},
		"Content-Type":        {"application/json"},
		"Accept":              {"text/event-stream"},
		"X-Stainless-Lang":    {"python"},
		"Anthropic-Version":   {"2023-06-01"},
		"X-Request-Id":        {"abc"},
	}
	if !reflect.DeepEqual(out, want) {
		for k := range out {
			if _, ok := want[k]; !ok {
				t.Errorf("forwarded %s: %q", k, out[k])
			}
		}
		for k := range want {
			if _, ok := out[k]; !ok {
				t.Errorf("dropped %s", k)
			}
		}
		t.Errorf("forwardHeaders =\n %v\nwant\n %v", out, want)
	}
	if !reflect.DeepEqual(in, snapshot) {
		t.Errorf("forwardHeaders changed its input")
	}
	// Setting the channel's key on the copy must not touch the client's.
	out.Set("Authorization", "Bearer channel-key")
	out.Set("User-Agent", "changed")
	if in.Get("Authorization") != "Bearer client-key" || in.Get("User-Agent") != "OpenAI/Python 1.50.0" {
		t.Errorf("the forwarded header shares values with the client's: %v", in)
	}
}

func TestExpectJSON(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"application/problem+json", true},
		{"text/html; charset=utf-8", true},
		{"text/plain", true},
		{"not a media type;;", true},
		{"text/event-stream", false},
		{"text/event-stream; charset=utf-8", false},
		{"audio/mpeg", false},
		{"image/png", false},
		{"application/octet-stream", false},
		{"application/x-ndjson", false},
		{"multipart/form-data; boundary=x", false},
	}
	for _, tt := range tests {
		if got := expectJSON(tt.ct); got != tt.want {
			t.Errorf("expectJSON(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}

func TestStreamTrackerEvent(t *testing.T) {
	const (
		usageOnly  = `{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}`
		nullAtEnd  = `{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}`
		nullCut    = `{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`
		nullMiddle = `{"id":"c","usage":null,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
		middleCut  = `{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
		plain      = `{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`
		stop       = `{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
		usageFinal = `{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`
		respDone   = `{"type":"response.completed","response":{"id":"r","usage":{"input_tokens":5,"output_tokens":7,"total_tokens":12}}}`
		respDelta  = `{"type":"response.output_text.delta","delta":"Hi"}`
	)
	tests := []struct {
		name         string
		hide         bool
		event        string
		data         string
		want         string // relayed data; "" = not relayed
		wantFinished bool
		wantUsage    dialect.Usage
	}{
		{"hide usage-only chunk", true, "", usageOnly, "", true, dialect.Usage{Prompt: 9, Completion: 12, Total: 21}},
		{"show usage-only chunk", false, "", usageOnly, usageOnly, true, dialect.Usage{Prompt: 9, Completion: 12, Total: 21}},
		{"hide null usage at end", true, "", nullAtEnd, nullCut, false, dialect.Usage{}},
		{"keep null usage", false, "", nullAtEnd, nullAtEnd, false, dialect.Usage{}},
		{"hide null usage in the middle", true, "", nullMiddle, middleCut, true, dialect.Usage{}},
		{"plain chunk, hide", true, "", plain, plain, false, dialect.Usage{}},
		{"plain chunk", false, "", plain, plain, false, dialect.Usage{}},
		{"finish_reason", false, "", stop, stop, true, dialect.Usage{}},
		{"usage with choices is relayed", true, "", usageFinal, usageFinal, true, dialect.Usage{Prompt: 1, Completion: 2, Total: 3}},
		{"responses completed", false, "response.completed", respDone, respDone, true, dialect.Usage{Prompt: 5, Completion: 7, Total: 12}},
		{"responses completed without event name", true, "", respDone, respDone, true, dialect.Usage{Prompt: 5, Completion: 7, Total: 12}},
		{"responses delta", false, "response.output_text.delta", respDelta, respDelta, false, dialect.Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			info, err := dialect.ScanObject(data)
			if err != nil {
				t.Fatal(err)
			}
			tr := streamTracker{hide: tt.hide}
			var u dialect.Usage
			out, keep := tr.event([]byte(tt.event), data, &info, &u)
			if keep != (tt.want != "") {
				t.Fatalf("keep = %v, want %v", keep, tt.want != "")
			}
			if keep && string(out) != tt.want {
				t.Errorf("relayed %s\nwant    %s", out, tt.want)
			}
			if string(data) != tt.data {
				t.Errorf("event changed its input to %s", data)
			}
			if tr.finished != tt.wantFinished {
				t.Errorf("finished = %v, want %v", tr.finished, tt.wantFinished)
			}
			if u != tt.wantUsage {
				t.Errorf("usage = %+v, want %+v", u, tt.wantUsage)
			}
		})
	}
}

func TestStreamTrackerStaysFinished(t *testing.T) {
	tr := streamTracker{hide: true}
	var u dialect.Usage
	for i, d := range []string{
		`{"choices":[{"delta":{"content":"a"},"finish_reason":null}],"usage":null}`,
		`{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}`,
		`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`,
	} {
		info, err := dialect.ScanObject([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		out, keep := tr.event(nil, []byte(d), &info, &u)
		if wantFinished := i >= 1; tr.finished != wantFinished {
			t.Errorf("after event %d: finished = %v, want %v", i, tr.finished, wantFinished)
		}
		if keep && bytes.Contains(out, []byte("usage")) {
			t.Errorf("event %d relayed with a usage trace: %s", i, out)
		}
		if keep != (i < 2) {
			t.Errorf("event %d: keep = %v", i, keep)
		}
	}
	if u != (dialect.Usage{Prompt: 1, Completion: 1, Total: 2}) {
		t.Errorf("usage = %+v, want {1 1 2}", u)
	}
}
