package main

// The two dialects besides chat completions: Anthropic Messages and OpenAI
// Responses. Same knobs as chat (latency, chunks, chunk size, delay,
// content), same write pattern: one write before the content, one per
// content event, one after it, so a stream in any dialect costs the
// upstream side alike and carries -chunks content events.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// anthropicError writes Anthropic's error shape.
func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	w.Write(append(b, '\n'))
}

// prelude is what every endpoint does first: count, check the key, read
// the body into a pooled buffer and decode it into v. It answers the
// error itself and returns false when the request is refused; release
// gives the buffer back.
func prelude(w http.ResponseWriter, r *http.Request, anthropic bool, v any) (body []byte, release func(), ok bool) {
	fail := func(status int, oaCode, anType, msg string) {
		nRejected.Add(1)
		if anthropic {
			anthropicError(w, status, anType, msg)
		} else {
			apiError(w, status, oaCode, msg)
		}
	}
	if opt.keyPrefix != "" {
		var key string
		var found bool
		if anthropic {
			key = r.Header.Get("X-Api-Key")
			found = key != ""
		} else {
			key, found = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		if !found || !strings.HasPrefix(key, opt.keyPrefix) {
			how := "bearer key"
			if anthropic {
				how = "x-api-key"
			}
			fail(http.StatusUnauthorized, "invalid_api_key", "authentication_error", "mock: "+how+" must start with "+opt.keyPrefix)
			return nil, nil, false
		}
	}
	if anthropic && r.Header.Get("Anthropic-Version") == "" {
		fail(http.StatusBadRequest, "", "invalid_request_error", "mock: anthropic-version: header is required")
		return nil, nil, false
	}
	bp := bodyPool.Get().(*[]byte)
	release = func() { bodyPool.Put(bp) }
	body, err := readAll(r.Body, (*bp)[:0], maxBodySize)
	*bp = body[:0]
	if err != nil {
		release()
		fail(http.StatusBadRequest, "bad_body", "invalid_request_error", "mock: cannot read body: "+err.Error())
		return nil, nil, false
	}
	if err := json.Unmarshal(body, v); err != nil {
		release()
		fail(http.StatusBadRequest, "invalid_json", "invalid_request_error", "mock: request is not JSON: "+err.Error())
		return nil, nil, false
	}
	return body, release, true
}

// safeModel is the request's model if it can be echoed in JSON as is.
func safeModel(model string) string {
	if model == "" || len(model) > 200 || strings.ContainsAny(model, "\"\\\n\r") {
		return "mock-model"
	}
	return model
}

// writeJSON answers a whole JSON body built in a pooled buffer.
func writeJSON(w http.ResponseWriter, build func([]byte) []byte) {
	bufp := bufPool.Get().(*[]byte)
	b := build((*bufp)[:0])
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	*bufp = b[:0]
	bufPool.Put(bufp)
	if err == nil {
		nDone.Add(1)
	} else {
		nAborted.Add(1)
	}
}

// sseWriter sends one write at a time and flushes it; false once the
// client is gone.
type sseWriter struct {
	w   http.ResponseWriter
	fl  http.Flusher
	buf *[]byte
}

func startSSE(w http.ResponseWriter) (*sseWriter, bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, fl: fl, buf: bufPool.Get().(*[]byte)}, true
}

func (s *sseWriter) send(b []byte) bool {
	*s.buf = b[:0]
	if _, err := s.w.Write(b); err != nil {
		return false
	}
	s.fl.Flush()
	return true
}

func (s *sseWriter) close() { bufPool.Put(s.buf) }

// ---- Anthropic Messages ----

type messagesRequest struct {
	Model     string            `json:"model"`
	Stream    bool              `json:"stream"`
	MaxTokens *int              `json:"max_tokens"`
	Messages  []json.RawMessage `json:"messages"`
}

func messages(w http.ResponseWriter, r *http.Request) {
	nTotal.Add(1)
	inFlight.Add(1)
	defer inFlight.Add(-1)
	var req messagesRequest
	body, release, ok := prelude(w, r, true, &req)
	if !ok {
		return
	}
	promptTokens := 10 + len(body)/4
	release()
	switch {
	case len(req.Messages) == 0:
		nRejected.Add(1)
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "mock: messages: must not be empty")
		return
	case req.MaxTokens == nil || *req.MaxTokens < 1:
		nRejected.Add(1)
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "mock: max_tokens: field required (a positive integer)")
		return
	}
	model := safeModel(req.Model)
	if opt.latency > 0 && !sleep(r.Context(), opt.latency) {
		nAborted.Add(1)
		return
	}
	id := reqID.Add(1)
	if req.Stream {
		nStreams.Add(1)
		if messagesStream(w, r, id, model, promptTokens) {
			nDone.Add(1)
		} else {
			nAborted.Add(1)
		}
		return
	}
	writeJSON(w, func(b []byte) []byte {
		b = append(b, `{"id":"msg_mock`...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, `","type":"message","role":"assistant","model":"`...)
		b = append(b, model...)
		b = append(b, `","content":[{"type":"text","text":"`...)
		b = append(b, fullText...)
		b = append(b, `"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":`...)
		b = strconv.AppendInt(b, int64(promptTokens), 10)
		b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":`...)
		b = strconv.AppendInt(b, int64(opt.content/4), 10)
		return append(b, "}}\n"...)
	})
}

// messagesStream writes Anthropic's event sequence; false if the client
// went away.
func messagesStream(w http.ResponseWriter, r *http.Request, id uint64, model string, promptTokens int) bool {
	s, ok := startSSE(w)
	if !ok {
		return false
	}
	defer s.close()
	b := append((*s.buf)[:0], "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock"...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","type":"message","role":"assistant","model":"`...)
	b = append(b, model...)
	b = append(b, `","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(promptTokens), 10)
	b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}`+"\n\n"...)
	b = append(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"...)
	if !s.send(b) {
		return false
	}
	for _, piece := range chunkTexts {
		if opt.chunkDelay > 0 && !sleep(r.Context(), opt.chunkDelay) {
			return false
		}
		b = append((*s.buf)[:0], "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""...)
		b = append(b, piece...)
		b = append(b, "\"}}\n\n"...)
		if !s.send(b) {
			return false
		}
	}
	b = append((*s.buf)[:0], "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"...)
	b = append(b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":"...)
	b = strconv.AppendInt(b, int64(opt.chunks*opt.chunkSize/4), 10)
	b = append(b, "}}\n\n"...)
	b = append(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
	return s.send(b)
}

// ---- OpenAI Responses ----

type responsesRequest struct {
	Model  string          `json:"model"`
	Stream bool            `json:"stream"`
	Input  json.RawMessage `json:"input"`
}

func responses(w http.ResponseWriter, r *http.Request) {
	nTotal.Add(1)
	inFlight.Add(1)
	defer inFlight.Add(-1)
	var req responsesRequest
	body, release, ok := prelude(w, r, false, &req)
	if !ok {
		return
	}
	promptTokens := 10 + len(body)/4
	release()
	if in := strings.TrimSpace(string(req.Input)); in == "" || in == "null" || in == `""` || in == "[]" {
		nRejected.Add(1)
		apiError(w, http.StatusBadRequest, "missing_input", "mock: input must not be empty")
		return
	}
	model := safeModel(req.Model)
	if opt.latency > 0 && !sleep(r.Context(), opt.latency) {
		nAborted.Add(1)
		return
	}
	id := reqID.Add(1)
	created := time.Now().Unix()
	if req.Stream {
		nStreams.Add(1)
		if responsesStream(w, r, id, created, model, promptTokens) {
			nDone.Add(1)
		} else {
			nAborted.Add(1)
		}
		return
	}
	writeJSON(w, func(b []byte) []byte {
		b = appendResponse(b, id, created, model, "completed", fullText, promptTokens, opt.content/4)
		return append(b, '\n')
	})
}

// appendResponse writes a Responses "response" object. status
// "in_progress" has no output and no usage; "completed" has one message
// item holding text, and usage.
func appendResponse(b []byte, id uint64, created int64, model, status, text string, promptTokens, completion int) []byte {
	b = append(b, `{"id":"resp_mock`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","object":"response","created_at":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"`...)
	b = append(b, model...)
	b = append(b, `","output":[`...)
	if status == "completed" {
		b = appendMessageItem(b, id, "completed", text, true)
	}
	b = append(b, `],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":`...)
	if status == "completed" {
		b = append(b, `{"input_tokens":`...)
		b = strconv.AppendInt(b, int64(promptTokens), 10)
		b = append(b, `,"input_tokens_details":{"cached_tokens":0},"output_tokens":`...)
		b = strconv.AppendInt(b, int64(completion), 10)
		b = append(b, `,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":`...)
		b = strconv.AppendInt(b, int64(promptTokens+completion), 10)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	return append(b, `,"user":null,"metadata":{}}`...)
}

// appendMessageItem writes the assistant message output item; withText
// false leaves its content empty (as output_item.added has it).
func appendMessageItem(b []byte, id uint64, status, text string, withText bool) []byte {
	b = append(b, `{"id":"msg_mock`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","type":"message","status":"`...)
	b = append(b, status...)
	b = append(b, `","content":[`...)
	if withText {
		b = appendOutputText(b, text)
	}
	return append(b, `],"role":"assistant"}`...)
}

func appendOutputText(b []byte, text string) []byte {
	b = append(b, `{"type":"output_text","annotations":[],"text":"`...)
	b = append(b, text...)
	return append(b, `"}`...)
}

// responsesStream writes the Responses streaming events; false if the
// client went away.
func responsesStream(w http.ResponseWriter, r *http.Request, id uint64, created int64, model string, promptTokens int) bool {
	s, ok := startSSE(w)
	if !ok {
		return false
	}
	defer s.close()
	seq := int64(0)
	ev := func(b []byte, typ string) []byte {
		b = append(b, "event: "...)
		b = append(b, typ...)
		b = append(b, "\ndata: {\"type\":\""...)
		b = append(b, typ...)
		b = append(b, `","sequence_number":`...)
		b = strconv.AppendInt(b, seq, 10)
		seq++
		return b
	}
	item := func(b []byte) []byte {
		b = append(b, `,"item_id":"msg_mock`...)
		b = strconv.AppendUint(b, id, 10)
		return append(b, `","output_index":0`...)
	}
	const end = "}\n\n"

	b := ev((*s.buf)[:0], "response.created")
	b = append(b, `,"response":`...)
	b = appendResponse(b, id, created, model, "in_progress", "", 0, 0)
	b = append(b, end...)
	b = ev(b, "response.in_progress")
	b = append(b, `,"response":`...)
	b = appendResponse(b, id, created, model, "in_progress", "", 0, 0)
	b = append(b, end...)
	b = ev(b, "response.output_item.added")
	b = append(b, `,"output_index":0,"item":`...)
	b = appendMessageItem(b, id, "in_progress", "", false)
	b = append(b, end...)
	b = ev(b, "response.content_part.added")
	b = item(b)
	b = append(b, `,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}`...)
	b = append(b, end...)
	if !s.send(b) {
		return false
	}
	for _, piece := range chunkTexts {
		if opt.chunkDelay > 0 && !sleep(r.Context(), opt.chunkDelay) {
			return false
		}
		b = ev((*s.buf)[:0], "response.output_text.delta")
		b = item(b)
		b = append(b, `,"content_index":0,"delta":"`...)
		b = append(b, piece...)
		b = append(b, `","logprobs":[]`...)
		b = append(b, end...)
		if !s.send(b) {
			return false
		}
	}
	b = ev((*s.buf)[:0], "response.output_text.done")
	b = item(b)
	b = append(b, `,"content_index":0,"text":"`...)
	b = append(b, streamText...)
	b = append(b, `","logprobs":[]`...)
	b = append(b, end...)
	b = ev(b, "response.content_part.done")
	b = item(b)
	b = append(b, `,"content_index":0,"part":`...)
	b = appendOutputText(b, streamText)
	b = append(b, end...)
	b = ev(b, "response.output_item.done")
	b = append(b, `,"output_index":0,"item":`...)
	b = appendMessageItem(b, id, "completed", streamText, true)
	b = append(b, end...)
	b = ev(b, "response.completed")
	b = append(b, `,"response":`...)
	b = appendResponse(b, id, created, model, "completed", streamText, promptTokens, opt.chunks*opt.chunkSize/4)
	b = append(b, end...)
	return s.send(b)
}
