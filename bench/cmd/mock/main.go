// Command mock is a mock OpenAI upstream for catfish's benchmark. It listens
// on loopback only and answers POST .../chat/completions:
//
//   - without "stream": a chat.completion JSON body (about -content bytes of
//     assistant text, with usage);
//   - with "stream": true: an SSE stream of chat.completion.chunk events: one
//     role event, -chunks content events of -chunk-size bytes each, -chunk-delay
//     apart, a finish event, a usage event when stream_options.include_usage
//     is true, then "data: [DONE]".
//
// It also answers the two other dialects catfish speaks (dialects.go), with
// the same knobs, so that a translated stream carries as many content
// events as a chat one:
//
//   - POST .../messages (Anthropic Messages): a "message" JSON body, or with
//     "stream": true the SSE events message_start, content_block_start,
//     -chunks content_block_delta (text_delta), content_block_stop,
//     message_delta (stop reason and usage) and message_stop, each with its
//     event: line;
//   - POST .../responses (OpenAI Responses): a "response" JSON body, or the
//     streaming events response.created, response.in_progress,
//     response.output_item.added, response.content_part.added, -chunks
//     response.output_text.delta, response.output_text.done,
//     response.content_part.done, response.output_item.done and
//     response.completed, with increasing sequence_number.
//
// -dialects limits the endpoints served (others answer 404), so a proxy
// that sends a request to the wrong endpoint for its channel type is caught.
//
// -latency delays the first byte. The key must start with -key-prefix
// (empty: not checked), so a proxy that forwards the client's key instead
// of the channel's is caught (HTTP 401): chat and responses take it as
// "Authorization: Bearer KEY", messages as "x-api-key: KEY" with an
// "anthropic-version" header, as Anthropic does. GET /healthz answers "ok";
// GET /mock/stats answers counters.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	latency    time.Duration
	chunks     int
	chunkSize  int
	chunkDelay time.Duration
	content    int
	keyPrefix  string
	serve      map[string]bool // dialects served: chat, messages, responses
}

var (
	opt options

	reqID     atomic.Uint64
	nTotal    atomic.Uint64
	nStreams  atomic.Uint64
	nDone     atomic.Uint64
	nRejected atomic.Uint64
	nAborted  atomic.Uint64
	nWrong    atomic.Uint64 // requests to an endpoint of a dialect not served
	inFlight  atomic.Int64
	nByPath   [3]atomic.Uint64 // requests by dialect: chat, messages, responses

	// Precomputed pieces of every answer.
	fullText    string   // non-stream assistant text (JSON-safe)
	chunkTexts  []string // stream content pieces (JSON-safe)
	streamText  string   // the pieces joined: a stream's whole text
	bufPool     = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
	bodyPool    = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
	maxBodySize = int64(1 << 20)
)

const vocabulary = "a mock upstream answers every request with the same plain words so that a proxy can be measured " +
	"against a bare reverse proxy on the same machine with the same load and the same answers while the " +
	"numbers that matter are the cost per request the latency added and the memory held by open streams "

// text returns n bytes of JSON-safe ASCII text, starting at offset off of the
// repeating vocabulary.
func text(off, n int) string {
	var sb strings.Builder
	sb.Grow(n)
	for sb.Len() < n {
		i := (off + sb.Len()) % len(vocabulary)
		end := min(len(vocabulary), i+n-sb.Len())
		sb.WriteString(vocabulary[i:end])
	}
	return sb.String()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:19200", "listen address (loopback only)")
	flag.DurationVar(&opt.latency, "latency", 0, "delay before the first byte of every answer")
	flag.IntVar(&opt.chunks, "chunks", 20, "stream: content events per stream")
	flag.IntVar(&opt.chunkSize, "chunk-size", 16, "stream: bytes of content per event")
	flag.DurationVar(&opt.chunkDelay, "chunk-delay", 0, "stream: delay between content events")
	flag.IntVar(&opt.content, "content", 320, "non-stream: bytes of assistant content")
	flag.StringVar(&opt.keyPrefix, "key-prefix", "sk-upstream-mock", "required prefix of the upstream key (Bearer, or x-api-key for messages; empty: any)")
	dialects := flag.String("dialects", "chat,messages,responses", "endpoints served, comma-separated: chat (/chat/completions), messages (/messages), responses (/responses); the others answer 404")
	flag.Parse()

	opt.serve = map[string]bool{}
	for d := range strings.SplitSeq(*dialects, ",") {
		switch d = strings.TrimSpace(d); d {
		case "chat", "messages", "responses":
			opt.serve[d] = true
		case "":
		default:
			log.Fatalf("mock: -dialects: unknown dialect %q (want chat, messages, responses)", d)
		}
	}
	if len(opt.serve) == 0 {
		log.Fatal("mock: -dialects names no dialect")
	}

	if opt.chunks < 0 || opt.chunks > 100000 || opt.chunkSize < 1 || opt.chunkSize > 1<<16 ||
		opt.content < 1 || opt.content > 1<<20 || opt.latency < 0 || opt.chunkDelay < 0 ||
		opt.latency > time.Hour || opt.chunkDelay > time.Minute {
		log.Fatal("mock: flag out of range (chunks 0..100000, chunk-size 1..65536, content 1..1MiB, delays non-negative)")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("mock: -addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("mock: -addr %q: loopback addresses only", *addr)
	}

	fullText = text(0, opt.content)
	chunkTexts = make([]string, opt.chunks)
	for i := range chunkTexts {
		chunkTexts[i] = text(i*opt.chunkSize, opt.chunkSize)
	}
	streamText = strings.Join(chunkTexts, "")

	mux := http.NewServeMux()
	mux.HandleFunc("/", route)
	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("mock: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "mock: listening on %s (latency %v, %d chunks of %d B, %v apart; dialects %s)\n",
		ln.Addr(), opt.latency, opt.chunks, opt.chunkSize, opt.chunkDelay, *dialects)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("mock: %v", err)
	}
	fmt.Fprintf(os.Stderr, "mock: stopped; %s\n", statsJSON())
}

func statsJSON() string {
	b, _ := json.Marshal(map[string]any{
		"requests":       nTotal.Load(),
		"streams":        nStreams.Load(),
		"completed":      nDone.Load(),
		"rejected":       nRejected.Load(),
		"aborted":        nAborted.Load(),
		"in_flight":      inFlight.Load(),
		"wrong_endpoint": nWrong.Load(),
		"by_dialect": map[string]uint64{
			"chat": nByPath[0].Load(), "messages": nByPath[1].Load(), "responses": nByPath[2].Load(),
		},
	})
	return string(b)
}

func route(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions"):
		if served(w, "chat", 0) {
			chat(w, r)
		}
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages"):
		if served(w, "messages", 1) {
			messages(w, r)
		}
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/responses"):
		if served(w, "responses", 2) {
			responses(w, r)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		io.WriteString(w, "ok\n")
	case r.Method == http.MethodGet && r.URL.Path == "/mock/stats":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, statsJSON()+"\n")
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"mock-model","object":"model","created":1700000000,"owned_by":"mock"}]}`+"\n")
	default:
		apiError(w, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path)
	}
}

// served counts a request for dialect d and says whether d is served; if
// not, it answers 404 and counts the request as rejected and misrouted.
func served(w http.ResponseWriter, d string, i int) bool {
	nByPath[i].Add(1)
	if opt.serve[d] {
		return true
	}
	nTotal.Add(1)
	nRejected.Add(1)
	nWrong.Add(1)
	if d == "messages" {
		anthropicError(w, http.StatusNotFound, "not_found_error", "mock: this mock does not serve "+d+" (-dialects)")
	} else {
		apiError(w, http.StatusNotFound, "not_found", "mock: this mock does not serve "+d+" (-dialects)")
	}
	return false
}

// chatRequest is the part of a chat request the mock looks at.
type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []json.RawMessage `json:"messages"`
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": msg, "type": "invalid_request_error", "code": code,
	}})
	w.Write(append(b, '\n'))
}

func chat(w http.ResponseWriter, r *http.Request) {
	nTotal.Add(1)
	inFlight.Add(1)
	defer inFlight.Add(-1)

	if opt.keyPrefix != "" {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !strings.HasPrefix(key, opt.keyPrefix) {
			nRejected.Add(1)
			apiError(w, http.StatusUnauthorized, "invalid_api_key", "mock: bearer key must start with "+opt.keyPrefix)
			return
		}
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, err := readAll(r.Body, (*bp)[:0], maxBodySize)
	*bp = body[:0]
	if err != nil {
		nRejected.Add(1)
		apiError(w, http.StatusBadRequest, "bad_body", "mock: cannot read body: "+err.Error())
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		nRejected.Add(1)
		apiError(w, http.StatusBadRequest, "invalid_json", "mock: request is not JSON: "+err.Error())
		return
	}
	if len(req.Messages) == 0 {
		nRejected.Add(1)
		apiError(w, http.StatusBadRequest, "no_messages", "mock: messages must not be empty")
		return
	}
	model := req.Model
	if model == "" || len(model) > 200 || strings.ContainsAny(model, "\"\\\n\r") {
		model = "mock-model"
	}
	if opt.latency > 0 && !sleep(r.Context(), opt.latency) {
		nAborted.Add(1)
		return
	}
	id := reqID.Add(1)
	created := time.Now().Unix()
	promptTokens := 10 + len(body)/4
	if req.Stream {
		nStreams.Add(1)
		usage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		if stream(w, r, id, created, model, usage, promptTokens) {
			nDone.Add(1)
		} else {
			nAborted.Add(1)
		}
		return
	}
	bufp := bufPool.Get().(*[]byte)
	b := (*bufp)[:0]
	b = append(b, `{"id":"chatcmpl-mock`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":"`...)
	b = append(b, model...)
	b = append(b, `","system_fingerprint":"fp_mock","choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	b = append(b, fullText...)
	b = append(b, `","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(promptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(opt.content/4), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(promptTokens+opt.content/4), 10)
	b = append(b, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, err = w.Write(b)
	*bufp = b[:0]
	bufPool.Put(bufp)
	if err == nil {
		nDone.Add(1)
	} else {
		nAborted.Add(1)
	}
}

// stream writes the SSE answer; false if the client went away.
func stream(w http.ResponseWriter, r *http.Request, id uint64, created int64, model string, usage bool, promptTokens int) bool {
	fl, ok := w.(http.Flusher)
	if !ok {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	head := func(b []byte) []byte {
		b = append(b, `data: {"id":"chatcmpl-mock`...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, `","object":"chat.completion.chunk","created":`...)
		b = strconv.AppendInt(b, created, 10)
		b = append(b, `,"model":"`...)
		b = append(b, model...)
		return append(b, `","system_fingerprint":"fp_mock","choices":[`...)
	}
	usageTail := `,"usage":null}`
	if !usage {
		usageTail = "}"
	}
	send := func(b []byte) bool {
		*bufp = b[:0]
		if _, err := w.Write(b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}

	b := head((*bufp)[:0])
	b = append(b, `{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]`...)
	b = append(b, usageTail...)
	if !send(append(b, "\n\n"...)) {
		return false
	}
	for _, piece := range chunkTexts {
		if opt.chunkDelay > 0 && !sleep(r.Context(), opt.chunkDelay) {
			return false
		}
		b = head((*bufp)[:0])
		b = append(b, `{"index":0,"delta":{"content":"`...)
		b = append(b, piece...)
		b = append(b, `"},"logprobs":null,"finish_reason":null}]`...)
		b = append(b, usageTail...)
		if !send(append(b, "\n\n"...)) {
			return false
		}
	}
	b = head((*bufp)[:0])
	b = append(b, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]`...)
	b = append(b, usageTail...)
	b = append(b, "\n\n"...)
	if usage {
		completion := opt.chunks * opt.chunkSize / 4
		b = head(b)
		b = append(b, `],"usage":{"prompt_tokens":`...)
		b = strconv.AppendInt(b, int64(promptTokens), 10)
		b = append(b, `,"completion_tokens":`...)
		b = strconv.AppendInt(b, int64(completion), 10)
		b = append(b, `,"total_tokens":`...)
		b = strconv.AppendInt(b, int64(promptTokens+completion), 10)
		b = append(b, "}}\n\n"...)
	}
	b = append(b, "data: [DONE]\n\n"...)
	return send(b)
}

// sleep waits d or until ctx ends; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readAll reads r into buf, refusing more than limit bytes.
func readAll(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errors.New("body larger than " + strconv.FormatInt(limit, 10) + " bytes")
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
