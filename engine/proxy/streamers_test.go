package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"catfish/engine/dialect"
)

// A broken passthrough Responses stream ended with an error event that
// lacked the nested "error" member the translated route sends: openai-node
// (6.x) throws an APIError for an event only when data.error is set, so a
// client iterating the raw stream saw it end without an error
// (e2e/tests/openai-dialects.test.mjs found it).
func TestResponsesPassthroughFailureHasNestedError(t *testing.T) {
	e := &dialect.Error{Status: 502, Type: "upstream_error", Code: "stream_broken", Message: `the upstream stream broke ("EOF")`}
	out := string(appendResponsesFailure(nil, "resp_1", 7, e))
	events := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(events) != 2 || !strings.HasPrefix(events[0], "event: response.failed\n") || !strings.HasPrefix(events[1], "event: error\n") {
		t.Fatalf("got events %q, want response.failed then error", out)
	}
	var failed struct {
		Type     string `json:"type"`
		Seq      int64  `json:"sequence_number"`
		Response struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Error  struct{ Code, Message string }
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(events[0], "event: response.failed\ndata: ")), &failed); err != nil {
		t.Fatalf("response.failed is not JSON: %v: %s", err, events[0])
	}
	if failed.Seq != 8 || failed.Response.ID != "resp_1" || failed.Response.Status != "failed" ||
		failed.Response.Error.Code != "stream_broken" || failed.Response.Error.Message != e.Message {
		t.Errorf("response.failed = %+v", failed)
	}
	var ev struct {
		Type    string  `json:"type"`
		Seq     int64   `json:"sequence_number"`
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Param   *string `json:"param"`
		Error   *struct {
			Type, Code, Message string
			Param               *string
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(events[1], "event: error\ndata: ")), &ev); err != nil {
		t.Fatalf("error event is not JSON: %v: %s", err, events[1])
	}
	if ev.Type != "error" || ev.Seq != 9 || ev.Code != "stream_broken" || ev.Message != e.Message {
		t.Errorf("error event = %+v", ev)
	}
	if ev.Error == nil {
		t.Fatalf("error event has no nested error member: %s", events[1])
	}
	if ev.Error.Type != "upstream_error" || ev.Error.Code != "stream_broken" || ev.Error.Message != e.Message {
		t.Errorf("nested error = %+v, want type upstream_error, code stream_broken, message %q", *ev.Error, e.Message)
	}

	// Catfish's own failure without a type or code still names both.
	out = string(appendResponsesFailure(nil, "resp_2", 0, &dialect.Error{Status: 502, Message: "idle"}))
	if !strings.Contains(out, `"error":{"type":"server_error","code":"server_error","message":"idle","param":null}`) {
		t.Errorf("defaults: %s", out)
	}
}
