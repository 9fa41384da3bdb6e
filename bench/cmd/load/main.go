// Command load is the closed-loop load generator of catfish's benchmark.
//
// It keeps -c requests in flight against one loopback URL (each worker sends
// its next request as soon as the previous one ends), starting the workers
// over -ramp, then runs -warmup unmeasured and -d measured. Every answer is
// verified: a non-stream answer must be HTTP 200 JSON with a choice carrying
// message.content; a stream must be HTTP 200, carry data events that are
// JSON objects (exactly -expect-events of them when set) and end with
// "data: [DONE]". It reports requests per second, latency percentiles, time
// to the first "data:" event (streams), errors by kind, and the target's CPU
// time per request and peak RSS, read from /proc.
//
// -dialect picks what the client speaks (dialect.go): chat (the default,
// verified as above), messages (Anthropic Messages on /v1/messages with
// x-api-key) or responses (OpenAI Responses on /v1/responses). An URL
// without a path beyond /v1 gets the dialect's endpoint. -expect-content
// counts the content events of a stream in any dialect.
//
//	load -url http://127.0.0.1:19201/v1/chat/completions -c 64 -d 5s
//	load -url ... -stream -include-usage -expect-events 23 -c 1000 -ramp 1s -json
//	load -url http://127.0.0.1:19201 -dialect messages -stream -expect-content 20
//	load -url ... -probe 30s          # readiness: one good answer, exit 0
//	load -url http://127.0.0.1:19201 -make-keys 1000 -keys-out keys.txt   # client keys via /admin/keys
//	load -url ... -keys-file keys.txt # every request with the next of these keys
//	load -report results.jsonl        # Markdown table from -json lines
//
// Only loopback targets are accepted: the URL is checked, and so is every
// address dialed. Redirects are not followed. Everything is bounded: the
// run's length, each request's time, the bytes read per answer.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	flURL           = flag.String("url", "http://127.0.0.1:19201/v1/chat/completions", "target URL (loopback only)")
	flC             = flag.Int("c", 1, "concurrency: requests kept in flight")
	flD             = flag.Duration("d", 5*time.Second, "measured duration")
	flWarmup        = flag.Duration("warmup", time.Second, "unmeasured warm-up after the ramp")
	flMinD          = flag.Duration("min-d", 0, "lower bound for -d (a scenario's floor: long streams need a longer window)")
	flMinWarm       = flag.Duration("min-warmup", 0, "lower bound for -warmup")
	flRamp          = flag.Duration("ramp", 0, "spread the workers' first requests evenly over this time (unmeasured)")
	flTimeout       = flag.Duration("timeout", 60*time.Second, "per-request time limit")
	flStream        = flag.Bool("stream", false, "send \"stream\": true and read the SSE answer")
	flUsage         = flag.Bool("include-usage", false, "send stream_options.include_usage = true")
	flExpect        = flag.Int("expect-events", 0, "stream: exact number of data events before [DONE] (0: at least one)")
	flStrict        = flag.Bool("strict", false, "stream: JSON-decode every event and check the reassembled content is non-empty (costs client CPU)")
	flDialect       = flag.String("dialect", "chat", "what the client speaks: chat, messages (Anthropic) or responses (OpenAI Responses)")
	flAuth          = flag.String("auth", "auto", "where the key goes: bearer, x-api-key, or auto (x-api-key for messages, else bearer)")
	flExpectContent = flag.Int("expect-content", 0, "stream: exact number of content events (chat: chunks with delta.content; messages: text_delta; responses: response.output_text.delta); for chat it JSON-decodes every event and wants a usage chunk when -include-usage")
	flCheckUsage    = flag.Bool("check-usage", false, "chat non-stream: the answer must carry usage.completion_tokens (messages and responses answers always must)")
	flKeysFile      = flag.String("keys-file", "", "client keys, one a line: each request uses the next one (instead of -key)")
	flMakeKeys      = flag.Int("make-keys", 0, "make this many client keys through POST <url>/admin/keys (admin key: -key), write them to -keys-out, exit")
	flKeysOut       = flag.String("keys-out", "", "make-keys: file for the secrets")
	flKeyRPM        = flag.Int64("key-rpm", 0, "make-keys: per-minute request limit of each key (0: none)")
	flKeyTPM        = flag.Int64("key-tpm", 0, "make-keys: per-minute token limit of each key (0: none)")
	flProbeUnsup    = flag.Bool("probe-unsupported", false, "probe: exit 3 at once when the target answers 400, 404, 405 or 501 (it does not serve this request), 4 when it refuses it otherwise (401, 403, 415 …)")
	flModel         = flag.String("model", "default", "\"model\" in the request body")
	flKey           = flag.String("key", "sk-bench", "bearer key (empty: no Authorization header)")
	flPID           = flag.Int("pid", 0, "measure this process (default: the one listening on the URL's port)")
	flPIDPort       = flag.Int("pid-port", 0, "measure the process listening on this port (default: the URL's port)")
	flMockPort      = flag.Int("mock-port", 0, "port of the mock upstream, to leave its CPU out of the noise figure")
	flJSON          = flag.Bool("json", false, "print one JSON result line on stdout")
	flTarget        = flag.String("target", "", "label for the JSON line: target name")
	flScenario      = flag.String("scenario", "", "label for the JSON line: scenario name")
	flRep           = flag.Int("rep", 0, "label for the JSON line: repetition")
	flPin           = flag.String("pin", "", "label for the JSON line: pinning mode")
	flProbe         = flag.Duration("probe", 0, "readiness mode: send one request at a time until one succeeds or this time passes")
	flQuiet         = flag.Bool("q", false, "no human-readable summary on stderr")
	flVerbose       = flag.Int("v", 3, "print the details of the first N errors on stderr")
	flReport        = flag.String("report", "", "report mode: render this JSON-lines file as Markdown and exit")
	flSubject       = flag.String("subject", "catfish", "report: the target under test")
	flBase          = flag.String("base", "baseline", "report: the yardstick target")
	flMaxNoise      = flag.Float64("max-noise", 50, "report: leave out runs with more foreign CPU than this (% of a core) when the cell has a cleaner run (0: keep all)")
)

// Limits that keep every run bounded.
const (
	maxConc      = 50000
	maxTotal     = 30 * time.Minute
	maxJSONBody  = 4 << 20
	maxStream    = 16 << 20
	maxEventLine = 1 << 20
)

func main() {
	flag.Parse()
	if *flReport != "" {
		if err := report(*flReport, os.Stdout); err != nil {
			fatalf("report: %v", err)
		}
		return
	}
	*flD = max(*flD, *flMinD)
	*flWarmup = max(*flWarmup, *flMinWarm)
	u, err := url.Parse(*flURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fatalf("-url %q: want http://<loopback>:<port>/path", *flURL)
	}
	if !loopbackHost(u.Hostname()) {
		fatalf("-url %q: only loopback targets are allowed (127.0.0.0/8, ::1, localhost)", *flURL)
	}
	if _, ok := dialectPath[*flDialect]; !ok {
		fatalf("-dialect %q: want chat, messages or responses", *flDialect)
	}
	if *flAuth != "auto" && *flAuth != "bearer" && *flAuth != "x-api-key" {
		fatalf("-auth %q: want auto, bearer or x-api-key", *flAuth)
	}
	if *flMakeKeys > 0 {
		os.Exit(makeKeys(u))
	}
	switch strings.TrimSuffix(u.Path, "/") {
	case "", "/v1":
		u.Path = dialectPath[*flDialect]
	}
	if *flKeysFile != "" {
		if err := loadKeys(*flKeysFile); err != nil {
			fatalf("-keys-file: %v", err)
		}
	}
	switch {
	case *flC < 1 || *flC > maxConc:
		fatalf("-c must be 1..%d", maxConc)
	case *flD <= 0 || *flWarmup < 0 || *flRamp < 0 || *flTimeout <= 0 || *flProbe < 0:
		fatalf("-d and -timeout must be positive; -warmup, -ramp, -probe not negative")
	case *flRamp+*flWarmup+*flD+*flTimeout > maxTotal || *flProbe > maxTotal:
		fatalf("-ramp + -warmup + -d + -timeout (and -probe) must stay under %v", maxTotal)
	case *flExpect < 0 || *flExpectContent < 0:
		fatalf("-expect-events and -expect-content must not be negative")
	}

	client := newClient(*flC)
	body := requestBodyFor(*flDialect)
	if *flProbe > 0 {
		os.Exit(probe(client, u.String(), body))
	}
	res := run(client, u, body)
	if !*flQuiet {
		printHuman(os.Stderr, res)
	}
	if *flJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", a...)
	os.Exit(2)
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func newClient(conc int) *http.Client {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		// Checked again for every connection: a name that resolves
		// elsewhere is refused at dial time.
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing to connect to non-loopback address %s", address)
			}
			return nil
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: conc + 16,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
			WriteBufferSize:     8 << 10,
			ReadBufferSize:      8 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// requestBody is a small, realistic chat request.
func requestBody() []byte {
	req := map[string]any{
		"model": *flModel,
		"messages": []map[string]string{
			{"role": "system", "content": "You are a helpful assistant. Answer briefly and precisely."},
			{"role": "user", "content": "Explain in one paragraph why a proxy in front of every LLM call must cost next to nothing, and name three things that keep a Go reverse proxy cheap."},
		},
		"temperature": 0.7,
		"max_tokens":  256,
	}
	if *flStream {
		req["stream"] = true
		if *flUsage {
			req["stream_options"] = map[string]bool{"include_usage": true}
		}
	}
	b, _ := json.Marshal(req)
	return b
}

// outcome is one request's verdict.
type outcome struct {
	kind    string // "" when verified
	detail  string
	ttfb    time.Duration
	events  int
	content int // content events (streams)
}

func failed(kind, format string, a ...any) outcome {
	return outcome{kind: kind, detail: fmt.Sprintf(format, a...)}
}

// worker owns the per-worker buffers.
type worker struct {
	client *http.Client
	url    string
	body   []byte
	header http.Header
	br     *bufio.Reader
	line   []byte
	buf    bytes.Buffer
	ev     sseEvent
}

func newWorker(client *http.Client, target string, body []byte) *worker {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if *flStream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	if *flDialect == dialectMessages {
		h.Set("Anthropic-Version", "2023-06-01")
	}
	if *flKey != "" && len(keyPool) == 0 {
		setKey(h, *flKey)
	}
	return &worker{client: client, url: target, body: body, header: h}
}

// setKey puts the client's key where -auth and -dialect say.
func setKey(h http.Header, key string) {
	if useXAPIKey() {
		h.Set("X-Api-Key", key)
	} else {
		h.Set("Authorization", "Bearer "+key)
	}
}

func (wk *worker) do(ctx context.Context) outcome {
	ctx, cancel := context.WithTimeout(ctx, *flTimeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wk.url, bytes.NewReader(wk.body))
	if err != nil {
		return failed("bad_request", "%v", err)
	}
	req.Header = wk.header.Clone()
	if n := uint64(len(keyPool)); n > 0 {
		setKey(req.Header, keyPool[keyNext.Add(1)%n])
	}
	resp, err := wk.client.Do(req)
	if err != nil {
		return failed(classify(err), "%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return failed("http_"+strconv.Itoa(resp.StatusCode), "%s", bytes.TrimSpace(b))
	}
	switch *flDialect {
	case dialectMessages:
		if *flStream {
			return wk.readNamedStream(resp.Body, start, &messagesCheck{})
		}
		return wk.readMessagesJSON(resp.Body)
	case dialectResponses:
		if *flStream {
			return wk.readNamedStream(resp.Body, start, &responsesCheck{})
		}
		return wk.readResponsesJSON(resp.Body)
	}
	if *flStream {
		return wk.readStream(resp.Body, start)
	}
	return wk.readJSON(resp.Body)
}

type completion struct {
	Choices []struct {
		Message *struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

func (wk *worker) readJSON(r io.Reader) outcome {
	wk.buf.Reset()
	if _, err := wk.buf.ReadFrom(io.LimitReader(r, maxJSONBody+1)); err != nil {
		return failed(classify(err), "reading body: %v", err)
	}
	if wk.buf.Len() > maxJSONBody {
		return failed("too_large", "body over %d bytes", maxJSONBody)
	}
	var c completion
	if err := json.Unmarshal(wk.buf.Bytes(), &c); err != nil {
		return failed("invalid_json", "%v: %.200q", err, wk.buf.Bytes())
	}
	if len(c.Choices) == 0 {
		return failed("no_choices", "%.200q", wk.buf.Bytes())
	}
	if m := c.Choices[0].Message; m == nil || m.Content == nil || *m.Content == "" {
		return failed("no_content", "%.200q", wk.buf.Bytes())
	}
	if *flCheckUsage && (c.Usage == nil || c.Usage.CompletionTokens <= 0) {
		return failed("no_usage", "%.200q", wk.buf.Bytes())
	}
	return outcome{}
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

var (
	contentMark      = []byte(`"content":"`)
	emptyContentMark = []byte(`"content":""`)
)

// nextLine returns the next line without its line ending. Long lines are
// assembled in wk.line, up to maxEventLine.
func (wk *worker) nextLine() ([]byte, error) {
	line, err := wk.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		wk.line = append(wk.line[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = wk.br.ReadSlice('\n')
			wk.line = append(wk.line, line...)
			if len(wk.line) > maxEventLine {
				return nil, errLineTooLong
			}
		}
		line = wk.line
	}
	if err != nil && len(line) > 0 && err == io.EOF {
		err = io.ErrUnexpectedEOF // a last line without its newline: cut
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, err
}

var errLineTooLong = errors.New("event line too long")

func (wk *worker) readStream(r io.Reader, start time.Time) outcome {
	var o outcome
	lr := &io.LimitedReader{R: r, N: maxStream + 1}
	if wk.br == nil {
		wk.br = bufio.NewReaderSize(lr, 4096)
	} else {
		wk.br.Reset(lr)
	}
	defer wk.br.Reset(nil)
	done, content := false, 0
	decode := *flStrict || *flExpectContent > 0
	usage := false
	for {
		line, err := wk.nextLine()
		if lr.N <= 0 {
			return failed("too_large", "stream over %d bytes", maxStream)
		}
		if len(line) > 0 && err == nil {
			payload, isData := bytes.CutPrefix(line, []byte("data:"))
			if isData {
				payload = bytes.TrimPrefix(payload, []byte(" "))
				if o.ttfb == 0 {
					o.ttfb = time.Since(start)
				}
				switch {
				case done:
					return failed("data_after_done", "%.200q", payload)
				case string(payload) == "[DONE]":
					done = true
				case len(payload) < 2 || payload[0] != '{' || payload[len(payload)-1] != '}':
					return failed("invalid_event", "event %d: %.200q", o.events+1, payload)
				default:
					o.events++
					if decode {
						var c chunk
						if err := json.Unmarshal(payload, &c); err != nil {
							return failed("invalid_event", "event %d: %v: %.200q", o.events, err, payload)
						}
						n := 0
						for _, ch := range c.Choices {
							n += len(ch.Delta.Content)
						}
						content += n
						if n > 0 {
							o.content++
						}
						if c.Usage != nil && c.Usage.CompletionTokens > 0 {
							usage = true
						}
					} else if bytes.Contains(payload, contentMark) && !bytes.Contains(payload, emptyContentMark) {
						// Counted for the report, not verified.
						o.content++
					}
				}
			}
			// Blank lines end events; ':' comments and event:/id:/retry: fields are ignored.
		}
		if err == nil {
			continue
		}
		switch {
		case err == io.EOF && done:
			if *flExpect > 0 && o.events != *flExpect {
				return failed("wrong_event_count", "got %d data events, want %d", o.events, *flExpect)
			}
			if o.events == 0 {
				return failed("no_events", "[DONE] without any data event")
			}
			if *flStrict && content == 0 {
				return failed("no_content", "no delta content in %d events", o.events)
			}
			if *flExpectContent > 0 {
				if o.content != *flExpectContent {
					return failed("wrong_content_count", "got %d content events, want %d", o.content, *flExpectContent)
				}
				if *flUsage && !usage {
					return failed("no_usage", "no usage chunk though include_usage was asked")
				}
			}
			return o
		case err == io.EOF:
			return failed("no_done", "stream ended after %d events without data: [DONE]", o.events)
		case err == errLineTooLong:
			return failed("too_large", "%v", err)
		case done:
			return failed("unclean_end", "after [DONE]: %v", err)
		case o.events == 0:
			return failed(classify(err), "before the first event: %v", err)
		default:
			return failed("stream_cut", "after %d events: %v", o.events, err)
		}
	}
}

// classify names an error kind.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "conn_reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken_pipe"
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		return "too_many_files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_local_port"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected_eof"
	case errors.Is(err, io.EOF):
		return "eof"
	}
	return "other"
}

func probe(client *http.Client, target string, body []byte) int {
	wk := newWorker(client, target, body)
	deadline := time.Now().Add(*flProbe)
	var last outcome
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		last = wk.do(ctx)
		cancel()
		if last.kind == "" {
			return 0
		}
		if *flProbeUnsup {
			switch last.kind {
			case "http_400", "http_404", "http_405", "http_501":
				fmt.Fprintf(os.Stderr, "load: %s answered %s: %.300s\n", target, strings.TrimPrefix(last.kind, "http_"), last.detail)
				return 3
			case "http_401", "http_402", "http_403", "http_406", "http_410", "http_413", "http_415", "http_422":
				fmt.Fprintf(os.Stderr, "load: %s refused the request with %s: %.300s\n", target, strings.TrimPrefix(last.kind, "http_"), last.detail)
				return 4
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !*flQuiet {
		fmt.Fprintf(os.Stderr, "load: %s did not answer within %v; last error %s: %s\n", target, *flProbe, last.kind, last.detail)
	}
	return 1
}

// Result is one run, as printed by -json.
type Result struct {
	Time        string  `json:"time"`
	Target      string  `json:"target,omitempty"`
	Scenario    string  `json:"scenario,omitempty"`
	Rep         int     `json:"rep,omitempty"`
	Pin         string  `json:"pin,omitempty"`
	Dialect     string  `json:"dialect,omitempty"` // the client's; empty: chat
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency"`
	WindowS     float64 `json:"window_s"`
	Requests    int64   `json:"requests"` // verified, completed inside the window
	RPS         float64 `json:"rps"`
	P50US       float64 `json:"p50_us"`
	P90US       float64 `json:"p90_us"`
	P99US       float64 `json:"p99_us"`
	MaxUS       float64 `json:"max_us"`
	TTFBP50US   float64 `json:"ttfb_p50_us,omitempty"`
	TTFBP99US   float64 `json:"ttfb_p99_us,omitempty"`
	// Streams: events and content events per verified request in the window.
	EventsPerReq  float64 `json:"events_per_req,omitempty"`
	ContentPerReq float64 `json:"content_per_req,omitempty"`
	// Errors counts failed requests over the whole run (ramp, warm-up,
	// window and the final drain); ErrorKinds splits them.
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	AllOK      int64            `json:"all_ok"` // verified answers over the whole run
	TargetPID  int              `json:"target_pid"`
	// CPUUSPerReq is the target's user+system CPU time in the window per
	// request completed in it.
	CPUUSPerReq   float64 `json:"cpu_us_per_req"`
	TargetCPUPct  float64 `json:"target_cpu_pct"` // % of one core
	PeakRSSMiB    float64 `json:"peak_rss_mib"`   // VmHWM at the end
	RSSMiB        float64 `json:"rss_mib"`        // VmRSS at the end of the window
	MockCPUUSPer  float64 `json:"mock_cpu_us_per_req,omitempty"`
	LoadCPUUSPer  float64 `json:"load_cpu_us_per_req"`
	NoisePct      float64 `json:"noise_pct"` // other processes' CPU, % of one core
	TargetGone    bool    `json:"target_gone,omitempty"`
	IncompleteRun bool    `json:"incomplete,omitempty"` // workers did not finish in time
	// Skipped says why a cell was not measured (written by run.sh, not by
	// a run): the target does not serve the scenario's requests.
	Skipped string `json:"skipped,omitempty"`
}

type errBook struct {
	mu      sync.Mutex
	kinds   map[string]int64
	printed int
}

func (b *errBook) add(o outcome, phase string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.kinds[o.kind]++
	if b.printed < *flVerbose {
		b.printed++
		fmt.Fprintf(os.Stderr, "load: error (%s) %s: %s\n", phase, o.kind, o.detail)
	}
}

func run(client *http.Client, u *url.URL, body []byte) Result {
	pid := *flPID
	if pid == 0 {
		port := *flPIDPort
		if port == 0 {
			port, _ = strconv.Atoi(u.Port())
			if port == 0 {
				port = 80
			}
		}
		pid = listenerPID(port)
	}
	mockPID := 0
	if *flMockPort > 0 {
		mockPID = listenerPID(*flMockPort)
	}
	if pid == 0 && !*flQuiet {
		fmt.Fprintln(os.Stderr, "load: target process not found; CPU and RSS will read 0")
	}

	var (
		conc       = *flC
		t0         = time.Now()
		mStart     = t0.Add(*flRamp + *flWarmup)
		mEnd       = mStart.Add(*flD)
		lat, ttfb  hist
		inWindow   atomic.Int64
		evSum      atomic.Int64
		contentSum atomic.Int64
		allOK      atomic.Int64
		nErr       atomic.Int64
		book       = errBook{kinds: map[string]int64{}}
		wg         sync.WaitGroup
		ctx, abort = context.WithCancel(context.Background())
	)
	defer abort()
	target := u.String()
	for i := range conc {
		wg.Go(func() {
			wk := newWorker(client, target, body)
			if *flRamp > 0 {
				time.Sleep(time.Duration(int64(*flRamp) * int64(i) / int64(conc)))
			}
			for time.Now().Before(mEnd) {
				start := time.Now()
				o := wk.do(ctx)
				end := time.Now()
				if o.kind != "" {
					if ctx.Err() != nil {
						return // hard stop: not the target's fault
					}
					nErr.Add(1)
					phase := "warm-up"
					if !end.Before(mEnd) {
						phase = "drain"
					} else if !end.Before(mStart) {
						phase = "window"
					}
					book.add(o, phase)
					continue
				}
				allOK.Add(1)
				if !end.Before(mStart) && end.Before(mEnd) {
					inWindow.Add(1)
					lat.add(end.Sub(start))
					if *flStream {
						ttfb.add(o.ttfb)
						evSum.Add(int64(o.events))
						contentSum.Add(int64(o.content))
					}
				}
			}
		})
	}

	// Resource readings at the window's edges.
	time.Sleep(time.Until(mStart))
	w0 := time.Now()
	tc0, tok := cpuTicks(pid)
	mc0, _ := cpuTicks(mockPID)
	lc0, _ := cpuTicks(os.Getpid())
	bz0, bok := busyTicks()
	time.Sleep(time.Until(mEnd))
	w1 := time.Now()
	tc1, tok1 := cpuTicks(pid)
	mc1, _ := cpuTicks(mockPID)
	lc1, _ := cpuTicks(os.Getpid())
	bz1, bok1 := busyTicks()
	rss := statusKiB(pid, "VmRSS")

	// Drain: requests in flight at the end finish (their errors count).
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	incomplete := false
	select {
	case <-finished:
	case <-time.After(*flTimeout + 5*time.Second):
		incomplete = true
		abort()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
		}
	}

	window := w1.Sub(w0).Seconds()
	n := inWindow.Load()
	res := Result{
		Time:          time.Now().UTC().Format(time.RFC3339),
		Target:        *flTarget,
		Scenario:      *flScenario,
		Rep:           *flRep,
		Pin:           *flPin,
		Mode:          "nonstream",
		Concurrency:   conc,
		WindowS:       round(window, 3),
		Requests:      n,
		RPS:           round(float64(n)/window, 1),
		P50US:         round(lat.quantile(0.50), 1),
		P90US:         round(lat.quantile(0.90), 1),
		P99US:         round(lat.quantile(0.99), 1),
		MaxUS:         round(float64(lat.max.Load())/1e3, 1),
		Errors:        nErr.Load(),
		AllOK:         allOK.Load(),
		TargetPID:     pid,
		PeakRSSMiB:    round(float64(statusKiB(pid, "VmHWM"))/1024, 1),
		RSSMiB:        round(float64(rss)/1024, 1),
		IncompleteRun: incomplete,
	}
	if *flDialect != dialectChat {
		res.Dialect = *flDialect
	}
	if *flStream {
		res.Mode = "stream"
		res.TTFBP50US = round(ttfb.quantile(0.50), 1)
		res.TTFBP99US = round(ttfb.quantile(0.99), 1)
		if n > 0 {
			res.EventsPerReq = round(float64(evSum.Load())/float64(n), 2)
			res.ContentPerReq = round(float64(contentSum.Load())/float64(n), 2)
		}
	}
	if len(book.kinds) > 0 {
		res.ErrorKinds = book.kinds
	}
	perReq := func(ticks int64) float64 {
		if n == 0 {
			return 0
		}
		return round(float64(ticks)*1e6/ticksPerSecond/float64(n), 1)
	}
	if tok && tok1 {
		res.CPUUSPerReq = perReq(tc1 - tc0)
		res.TargetCPUPct = round(float64(tc1-tc0)/ticksPerSecond/window*100, 1)
	} else if pid != 0 {
		res.TargetGone = true
	}
	if mockPID != 0 {
		res.MockCPUUSPer = perReq(mc1 - mc0)
	}
	res.LoadCPUUSPer = perReq(lc1 - lc0)
	if bok && bok1 {
		foreign := (bz1 - bz0) - (tc1 - tc0) - (mc1 - mc0) - (lc1 - lc0)
		res.NoisePct = round(max(0, float64(foreign))/ticksPerSecond/window*100, 1)
	}
	if pid != 0 {
		if _, ok := cpuTicks(pid); !ok {
			res.TargetGone = true
		}
	}
	return res
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

func printHuman(w io.Writer, r Result) {
	fmt.Fprintf(w, "%s %s c=%d: %d ok in %.2fs = %.0f req/s; p50 %s p90 %s p99 %s max %s",
		r.Target, r.Mode, r.Concurrency, r.Requests, r.WindowS, r.RPS, fmtUS(r.P50US), fmtUS(r.P90US), fmtUS(r.P99US), fmtUS(r.MaxUS))
	if r.Mode == "stream" {
		fmt.Fprintf(w, "; ttfb p50 %s p99 %s", fmtUS(r.TTFBP50US), fmtUS(r.TTFBP99US))
	}
	fmt.Fprintf(w, "\n  target pid %d: %.0f µs CPU/req (%.0f%% of a core), peak RSS %.1f MiB; noise %.0f%%; errors %d",
		r.TargetPID, r.CPUUSPerReq, r.TargetCPUPct, r.PeakRSSMiB, r.NoisePct, r.Errors)
	if len(r.ErrorKinds) > 0 {
		kinds := make([]string, 0, len(r.ErrorKinds))
		for k, v := range r.ErrorKinds {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(kinds)
		fmt.Fprintf(w, " (%s)", strings.Join(kinds, " "))
	}
	if r.TargetGone {
		fmt.Fprint(w, "; TARGET PROCESS GONE")
	}
	if r.IncompleteRun {
		fmt.Fprint(w, "; requests still open at the hard stop")
	}
	fmt.Fprintln(w)
}

func fmtUS(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + " s"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + " ms"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " µs"
}
