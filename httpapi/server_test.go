package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/keys"
	"catfish/scheme"
)

const testAdminKey = "sk-admin-0123456789abcdef"

// fakeProxy records what reaches the engine and answers with a fixed body
// or a fixed error.
type fakeProxy struct {
	mu     sync.Mutex
	reqs   []*dialect.Inbound
	err    error    // returned by Proxy instead of answering
	models []string // returned by Models
	dead   int      // requests whose context had ended on arrival
}

func (p *fakeProxy) Proxy(w http.ResponseWriter, r *http.Request, req *dialect.Inbound, _ keys.Caller) error {
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	if r.Context().Err() != nil {
		p.dead++
	}
	err := p.err
	p.mu.Unlock()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"proxied":true}`)
	return nil
}

func (p *fakeProxy) Models(ctx context.Context) ([]string, error) {
	return p.models, p.err
}

func (p *fakeProxy) last(t *testing.T) *dialect.Inbound {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reqs) == 0 {
		t.Fatal("the request did not reach the proxy")
	}
	return p.reqs[len(p.reqs)-1]
}

func (p *fakeProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.reqs)
}

// fakeAdmin keeps channels in memory with the channel package's own rules.
// The embedded interface is nil: a method no test expects panics.
type fakeAdmin struct {
	Admin
	mu    sync.Mutex
	next  int
	chans map[string]channel.Settings
}

func newFakeAdmin() *fakeAdmin { return &fakeAdmin{chans: map[string]channel.Settings{}} }

func view(s channel.Settings) channel.View {
	return channel.View{Settings: s.Public(), Breaker: channel.BreakerView{State: "closed"}}
}

func (a *fakeAdmin) Channels(ctx context.Context) (map[string][]channel.View, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]channel.View{}
	ids := make([]string, 0, len(a.chans))
	for id := range a.chans {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := a.chans[id]
		out[s.Scheme] = append(out[s.Scheme], view(s))
	}
	return out, nil
}

func (a *fakeAdmin) CreateChannel(ctx context.Context, p channel.Patch) (channel.View, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	s, err := channel.NewFromPatch(fmt.Sprintf("ch-%02d", a.next), p)
	if err != nil {
		return channel.View{}, err
	}
	a.chans[s.ID] = s
	return view(s), nil
}

func (a *fakeAdmin) UpdateChannel(ctx context.Context, id string, p channel.Patch) (channel.View, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.chans[id]
	if !ok {
		return channel.View{}, fmt.Errorf("update %s: %w", id, channel.ErrNotFound)
	}
	s, err := channel.ApplyPatch(s, p)
	if err != nil {
		return channel.View{}, err
	}
	a.chans[id] = s
	return view(s), nil
}

func (a *fakeAdmin) DeleteChannel(ctx context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.chans[id]; !ok {
		return fmt.Errorf("delete %s: %w", id, channel.ErrNotFound)
	}
	delete(a.chans, id)
	return nil
}

func (a *fakeAdmin) get(id string) (channel.Settings, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.chans[id]
	return s, ok
}

type testServer struct {
	*Server
	proxy *fakeProxy
	admin *fakeAdmin
}

func newTestServer(t *testing.T, mod func(*Options)) *testServer {
	t.Helper()
	opts := Options{AdminKey: testAdminKey, BodyLimit: 1 << 20, Version: "v-test"}
	if mod != nil {
		mod(&opts)
	}
	ts := &testServer{proxy: &fakeProxy{models: []string{"cheap", "default"}}, admin: newFakeAdmin()}
	ts.Server = New(opts, ts.proxy, ts.admin)
	return ts
}

// do sends one request through the handler. auth is the Authorization
// header; "" sends none.
func (ts *testServer) do(method, target, auth, body string, hdr ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	ts.ServeHTTP(w, r)
	return w
}

const bearer = "Bearer " + testAdminKey

// errorOf checks that w is an OpenAI-shaped JSON error with the status and
// returns its fields.
func errorOf(t *testing.T, w *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("error body %q is not JSON: %v", w.Body, err)
	}
	e, ok := doc["error"]
	if !ok || len(doc) != 1 {
		t.Fatalf("error body %s is not {\"error\":{...}}", w.Body)
	}
	for _, k := range []string{"message", "type", "code"} {
		if _, ok := e[k]; !ok {
			t.Errorf("error body %s has no %q", w.Body, k)
		}
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error body %s has an empty message", w.Body)
	}
	return e
}

func TestAuth(t *testing.T) {
	ts := newTestServer(t, nil)
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/chat/completions", `{"model":"m"}`},
		{"POST", "/v1/embeddings", `{"model":"m","input":"x"}`},
		{"GET", "/v1/models", ""},
		{"GET", "/v1/nothing", ""},
		{"GET", "/admin/config", ""},
		{"POST", "/admin/config", `{}`},
		{"PUT", "/admin/config/x", `{}`},
		{"DELETE", "/admin/config/x", ""},
		{"GET", "/admin/nothing", ""},
	}
	denied := []struct{ name, auth string }{
		{"missing", ""},
		{"wrong key", "Bearer sk-wrong"},
		{"key as a prefix", bearer + "x"},
		{"key truncated", bearer[:len(bearer)-1]},
		{"no scheme", testAdminKey},
		{"Basic", "Basic " + testAdminKey},
		{"Bearer without space", "Bearer" + testAdminKey},
		{"upper-case scheme", "BEARER " + testAdminKey},
		{"Bearer alone", "Bearer "},
		{"Token", "Token " + testAdminKey},
	}
	for _, rt := range routes {
		for _, d := range denied {
			t.Run(rt.method+" "+rt.path+"/"+d.name, func(t *testing.T) {
				w := ts.do(rt.method, rt.path, d.auth, rt.body)
				e := errorOf(t, w, http.StatusUnauthorized)
				if e["type"] != "invalid_request_error" || e["code"] != "invalid_api_key" {
					t.Errorf("error %v, want type invalid_request_error, code invalid_api_key", e)
				}
				if strings.Contains(w.Body.String(), testAdminKey) {
					t.Errorf("the answer repeats the key: %s", w.Body)
				}
			})
		}
	}
	if n := ts.proxy.count(); n != 0 {
		t.Errorf("%d unauthorized requests reached the proxy", n)
	}
	if len(ts.admin.chans) != 0 {
		t.Errorf("unauthorized requests changed the config: %v", ts.admin.chans)
	}

	accepted := []string{bearer, "bearer " + testAdminKey, "Bearer  " + testAdminKey, bearer + " "}
	for _, auth := range accepted {
		if w := ts.do("GET", "/v1/models", auth, ""); w.Code != http.StatusOK {
			t.Errorf("Authorization %q: status %d, want 200", auth, w.Code)
		}
		if w := ts.do("GET", "/admin/config", auth, ""); w.Code != http.StatusOK {
			t.Errorf("Authorization %q on /admin: status %d, want 200", auth, w.Code)
		}
	}
}

func TestAuthEmptyAdminKeyRefusesAll(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.AdminKey = "" })
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		w := ts.do("GET", "/v1/models", auth, "")
		errorOf(t, w, http.StatusUnauthorized)
	}
}

func TestHealthzNeedsNoAuth(t *testing.T) {
	ts := newTestServer(t, nil)
	w := ts.do("GET", "/healthz", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc["status"] != "ok" || doc["version"] != "v-test" {
		t.Errorf("body %s (%v), want status ok and the version", w.Body, err)
	}
}

func TestPreflightNeedsNoAuth(t *testing.T) {
	ts := newTestServer(t, nil)
	w := ts.do("OPTIONS", "/v1/chat/completions", "", "")
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d, want 204", w.Code)
	}
	h := w.Header()
	if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("CORS headers %v", h)
	}
	// A browser reading a 401 needs the CORS header too.
	if w := ts.do("POST", "/v1/chat/completions", "", `{"model":"m"}`); w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("401 without Access-Control-Allow-Origin")
	}
}

func TestProxyRouting(t *testing.T) {
	tests := []struct {
		target    string
		wantPath  string
		wantQuery string
	}{
		{"/v1/chat/completions", "/chat/completions", ""},
		{"/v1/completions", "/completions", ""},
		{"/v1/embeddings", "/embeddings", ""},
		{"/v1/responses", "/responses", ""},
		{"/v1/images/generations", "/images/generations", ""},
		{"/v1/audio/speech", "/audio/speech", ""},
		{"/v1/chat/completions?api-version=2024-02-01", "/chat/completions", "api-version=2024-02-01"},
		{"/v1/responses?a=1&b=%20x", "/responses", "a=1&b=%20x"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			ts := newTestServer(t, nil)
			body := `{"model":"cheap","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			w := ts.do("POST", tt.target, bearer, body, "Content-Type", "application/json", "OpenAI-Beta", "assistants=v2")
			if w.Code != http.StatusOK || w.Body.String() != `{"proxied":true}` {
				t.Fatalf("answer %d %s, want the proxy's", w.Code, w.Body)
			}
			req := ts.proxy.last(t)
			if req.Path != tt.wantPath || req.Query != tt.wantQuery {
				t.Errorf("Path %q Query %q, want %q %q", req.Path, req.Query, tt.wantPath, tt.wantQuery)
			}
			if string(req.Body) != body {
				t.Errorf("Body %q, want the client's bytes %q", req.Body, body)
			}
			if req.Info.Model != "cheap" || !req.Info.HasModel || !req.Info.Stream {
				t.Errorf("Info %+v, want model cheap, stream", req.Info)
			}
			if req.Header.Get("OpenAI-Beta") != "assistants=v2" {
				t.Errorf("client headers not passed: %v", req.Header)
			}
		})
	}
}

func TestProxyBodyChecks(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		ct        string
		status    int
		wantCode  string
		wantParam string
	}{
		{"ok", `{"model":"m"}`, "application/json", 200, "", ""},
		{"ok with charset", `{"model":"m"}`, "application/json; charset=utf-8", 200, "", ""},
		{"ok +json", `{"model":"m"}`, "application/vnd.catfish+json", 200, "", ""},
		{"ok without content type", `{"model":"m"}`, "", 200, "", ""},
		{"ok as curl -d sends it", `{"model":"m"}`, "application/x-www-form-urlencoded", 200, "", ""},
		{"empty", "", "application/json", 400, "invalid_json", ""},
		{"malformed", `{"model":"m"`, "application/json", 400, "invalid_json", ""},
		{"trailing garbage", `{"model":"m"} x`, "application/json", 400, "invalid_json", ""},
		{"array", `[{"model":"m"}]`, "application/json", 400, "invalid_json", ""},
		{"string", `"m"`, "application/json", 400, "invalid_json", ""},
		{"number", `1`, "application/json", 400, "invalid_json", ""},
		{"invalid UTF-8", "{\"model\":\"m\",\"x\":\"\xff\"}", "application/json", 400, "invalid_json", ""},
		{"missing model", `{"messages":[]}`, "application/json", 400, "missing_model", "model"},
		{"model not a string", `{"model":42}`, "application/json", 400, "missing_model", "model"},
		{"model null", `{"model":null}`, "application/json", 400, "missing_model", "model"},
		// Routing would use one "model", an override replace one, and the
		// upstream's parser pick either: ambiguous, so refused.
		{"model twice", `{"model":"a","messages":[],"model":"m"}`, "application/json", 400, "duplicate_key", "model"},
		{"model twice, one escaped", `{"model":"a","mod\u0065l":"m"}`, "application/json", 400, "duplicate_key", "model"},
		{"model twice, one not a string", `{"model":1,"model":"m"}`, "application/json", 400, "duplicate_key", "model"},
		{"nested model is no duplicate", `{"model":"m","metadata":{"model":"x"}}`, "application/json", 200, "", ""},
		{"multipart", "--x\r\n", "multipart/form-data; boundary=x", 415, "unsupported_media_type", ""},
		{"text", `{"model":"m"}`, "text/plain", 415, "unsupported_media_type", ""},
		{"malformed content type", `{"model":"m"}`, "application/json; ===", 415, "unsupported_media_type", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, nil)
			var hdr []string
			if tt.ct != "" {
				hdr = []string{"Content-Type", tt.ct}
			}
			w := ts.do("POST", "/v1/chat/completions", bearer, tt.body, hdr...)
			if tt.status == 200 {
				if w.Code != 200 {
					t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
				}
				return
			}
			e := errorOf(t, w, tt.status)
			if e["type"] != "invalid_request_error" {
				t.Errorf("type %v, want invalid_request_error", e["type"])
			}
			if e["code"] != tt.wantCode {
				t.Errorf("code %v, want %s", e["code"], tt.wantCode)
			}
			if tt.wantParam != "" && e["param"] != tt.wantParam {
				t.Errorf("param %v, want %s", e["param"], tt.wantParam)
			}
			if ts.proxy.count() != 0 {
				t.Errorf("a refused request reached the proxy")
			}
		})
	}
}

func TestProxyBodyLimit(t *testing.T) {
	const limit = 1000
	ts := newTestServer(t, func(o *Options) { o.BodyLimit = limit })
	body := func(n int) string {
		pad := n - len(`{"model":"m","p":""}`)
		return `{"model":"m","p":"` + strings.Repeat("x", pad) + `"}`
	}
	for _, tt := range []struct {
		name          string
		size          int
		unknownLength bool
		status        int
	}{
		{"at the limit", limit, false, 200},
		{"at the limit, chunked", limit, true, 200},
		{"one byte over", limit + 1, false, 413},
		{"one byte over, chunked", limit + 1, true, 413},
		{"far over, chunked", 50 * limit, true, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := body(tt.size)
			if len(b) != tt.size {
				t.Fatalf("test body is %d bytes, want %d", len(b), tt.size)
			}
			r := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(b))
			r.Header.Set("Authorization", bearer)
			if tt.unknownLength {
				r.ContentLength = -1
				r.Body = io.NopCloser(strings.NewReader(b))
			}
			w := httptest.NewRecorder()
			ts.ServeHTTP(w, r)
			if tt.status == 200 {
				if w.Code != 200 {
					t.Fatalf("status %d, want 200; %s", w.Code, w.Body)
				}
				return
			}
			e := errorOf(t, w, tt.status)
			if e["code"] != "request_too_large" {
				t.Errorf("code %v, want request_too_large", e["code"])
			}
		})
	}
}

// TestProxyOverRealHTTP runs the handler behind a real listener on
// 127.0.0.1: chunked uploads, the body limit, errors from the engine.
func TestProxyOverRealHTTP(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.BodyLimit = 4096 })
	srv := httptest.NewServer(ts)
	defer srv.Close()

	post := func(body io.Reader) *http.Response {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/v1/chat/completions?x=1", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", bearer)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// An io.Reader that is not a *strings.Reader: no Content-Length, the
	// body goes chunked.
	resp := post(io.MultiReader(strings.NewReader(`{"model":"cheap",`), strings.NewReader(`"stream":false}`)))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"proxied":true}` {
		t.Fatalf("chunked upload: %d %s", resp.StatusCode, b)
	}
	if req := ts.proxy.last(t); string(req.Body) != `{"model":"cheap","stream":false}` || req.Query != "x=1" {
		t.Errorf("proxy got %q ?%s", req.Body, req.Query)
	}

	resp = post(io.MultiReader(strings.NewReader(`{"model":"cheap","p":"`), strings.NewReader(strings.Repeat("x", 10000)), strings.NewReader(`"}`)))
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/json" || !json.Valid(b) {
		t.Errorf("oversized chunked upload: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}

	ts.proxy.mu.Lock()
	ts.proxy.err = scheme.ErrNoScheme
	ts.proxy.mu.Unlock()
	resp = post(strings.NewReader(`{"model":"cheap"}`))
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(b, []byte(`"no_channels"`)) {
		t.Errorf("no scheme: %d %s, want 503 no_channels", resp.StatusCode, b)
	}
}

// TestConnectionsAfterBodies: a connection whose request body was read to
// its end serves the next request, error answers included, with a live
// context; one answered before its body was read (a 401, a 415) is
// closed rather than drained.
func TestConnectionsAfterBodies(t *testing.T) {
	ts := newTestServer(t, nil)
	srv := httptest.NewServer(ts)
	defer srv.Close()
	var reused []bool
	send := func(auth, ct, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", ct)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(c httptrace.GotConnInfo) { reused = append(reused, c.Reused) },
		}))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	ok := `{"model":"cheap"}`
	codes := []int{
		send(bearer, "application/json", ok),
		send(bearer, "application/json", `{"model":"a","model":"b"}`), // a 400 after the body was read
		send(bearer, "application/json", ok),
		send("Bearer wrong", "application/json", ok), // a 401: body never read
		send(bearer, "application/json", ok),
		send(bearer, "text/plain", ok), // a 415: body never read
		send(bearer, "application/json", ok),
	}
	if want := []int{200, 400, 200, 401, 200, 415, 200}; !slices.Equal(codes, want) {
		t.Fatalf("statuses %v, want %v", codes, want)
	}
	if want := []bool{false, true, true, true, false, true, false}; !slices.Equal(reused, want) {
		t.Errorf("connection reused: %v, want %v", reused, want)
	}
	if ts.proxy.dead != 0 {
		t.Errorf("%d requests reached the proxy with their context ended", ts.proxy.dead)
	}
}

func TestProxyErrorsBecomeAnswers(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"no scheme", scheme.ErrNoScheme, 503, "no_channels"},
		{"stopped", fmt.Errorf("route: %w", scheme.ErrStopped), 503, "shutting_down"},
		{"timeout", context.DeadlineExceeded, 504, "request_timeout"},
		{"api error", &dialect.Error{Status: 429, Type: "rate_limit", Code: "rate_limited", Message: "slow down", RetryAfter: 7}, 429, "rate_limited"},
		{"unknown", errors.New("boom"), 500, "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, nil)
			ts.proxy.err = tt.err
			w := ts.do("POST", "/v1/chat/completions", bearer, `{"model":"m"}`)
			e := errorOf(t, w, tt.status)
			if e["code"] != tt.code {
				t.Errorf("code %v, want %s", e["code"], tt.code)
			}
			if tt.name == "api error" && w.Header().Get("Retry-After") != "7" {
				t.Errorf("Retry-After %q, want 7", w.Header().Get("Retry-After"))
			}
		})
	}
	// An upstream's own error body is passed through as it came.
	ts := newTestServer(t, nil)
	upstream := []byte(`{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}`)
	ts.proxy.err = &dialect.Error{Status: 400, Body: upstream, Header: http.Header{"Content-Type": {"application/json"}}}
	w := ts.do("POST", "/v1/chat/completions", bearer, `{"model":"m"}`)
	if w.Code != 400 || !bytes.Equal(w.Body.Bytes(), upstream) {
		t.Errorf("passed-through error: %d %s", w.Code, w.Body)
	}
	// A client that left gets nothing written.
	ts.proxy.err = context.Canceled
	w = ts.do("POST", "/v1/chat/completions", bearer, `{"model":"m"}`)
	if w.Body.Len() != 0 {
		t.Errorf("canceled request got an answer: %d %s", w.Code, w.Body)
	}
}

func TestModels(t *testing.T) {
	ts := newTestServer(t, nil)
	w := ts.do("GET", "/v1/models", bearer, "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var doc struct {
		Object string
		Data   []map[string]any
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Object != "list" || len(doc.Data) != 2 {
		t.Fatalf("models %s, want a list of 2", w.Body)
	}
	for i, name := range []string{"cheap", "default"} {
		m := doc.Data[i]
		if m["id"] != name || m["object"] != "model" || m["owned_by"] == nil || m["created"] == nil {
			t.Errorf("model %d = %v, want an OpenAI model object for %s", i, m, name)
		}
	}

	// No schemes yet: an empty list, not null.
	ts.proxy.models = nil
	w = ts.do("GET", "/v1/models", bearer, "")
	if !strings.Contains(w.Body.String(), `"data":[]`) {
		t.Errorf("no schemes: %s, want \"data\":[]", w.Body)
	}
}

// TestUnknownRoutes: a path no route serves is a 404; a path served for
// other methods is a 405 listing them in Allow.
func TestUnknownRoutes(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, tt := range []struct{ method, path, allow string }{
		{"GET", "/admin/x", ""},
		{"POST", "/admin/nothing/here", ""},
		{"GET", "/v1/chat/completions", "OPTIONS, POST"},
		{"GET", "/v1/unknown", "OPTIONS, POST"},
		{"PATCH", "/admin/config/ch-01", "DELETE, PUT"},
		{"PUT", "/admin/import", "POST"},
	} {
		w := ts.do(tt.method, tt.path, bearer, "")
		if tt.allow == "" {
			if e := errorOf(t, w, http.StatusNotFound); e["code"] != "unknown_url" {
				t.Errorf("%s %s: code %v, want unknown_url", tt.method, tt.path, e["code"])
			}
			continue
		}
		if e := errorOf(t, w, http.StatusMethodNotAllowed); e["code"] != "method_not_allowed" {
			t.Errorf("%s %s: code %v, want method_not_allowed", tt.method, tt.path, e["code"])
		}
		if got := w.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

// channelOf decodes an admin answer into a channel.
func channelOf(t *testing.T, w *httptest.ResponseRecorder) channel.View {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var v channel.View
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %s: %v", w.Body, err)
	}
	return v
}

func TestAdminCRUD(t *testing.T) {
	ts := newTestServer(t, nil)
	const key = "sk-proj-abcdefghijklmnop"

	// Create.
	w := ts.do("POST", "/admin/config", bearer,
		`{"priority":1,"url":"https://api.example.com/v1","api_key":"`+key+`","scheme_name":"cheap","name":"primary"}`,
		"Content-Type", "application/json")
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("admin answer Cache-Control %q, want no-store", cc)
	}
	c := channelOf(t, w)
	if c.ID == "" || c.Priority != 1 || c.URL != "https://api.example.com/v1" || c.Scheme != "cheap" || !c.Enabled || c.Name != "primary" {
		t.Errorf("created %+v", c)
	}
	if c.APIKey == key || !strings.HasSuffix(c.APIKey, "mnop") {
		t.Errorf("api_key shown as %q, want it masked", c.APIKey)
	}
	id := c.ID

	// A second one in the default scheme.
	c2 := channelOf(t, ts.do("POST", "/admin/config", bearer, `{"priority":2,"url":"http://127.0.0.1:9/v1","api_key":"k2-0123456789ab"}`))
	if c2.Scheme != "default" || c2.ID == id {
		t.Errorf("second channel %+v", c2)
	}

	// List.
	w = ts.do("GET", "/admin/config", bearer, "")
	var all map[string][]channel.View
	if err := json.Unmarshal(w.Body.Bytes(), &all); err != nil || w.Code != 200 {
		t.Fatalf("list: %d %s %v", w.Code, w.Body, err)
	}
	if len(all["cheap"]) != 1 || all["cheap"][0].ID != id || len(all["default"]) != 1 {
		t.Errorf("list %s", w.Body)
	}
	if strings.Contains(w.Body.String(), key) {
		t.Errorf("list shows a key: %s", w.Body)
	}

	// Partial update: only priority changes.
	c = channelOf(t, ts.do("PUT", "/admin/config/"+id, bearer, `{"priority":5}`))
	if c.Priority != 5 || c.URL != "https://api.example.com/v1" || c.Name != "primary" || c.Scheme != "cheap" {
		t.Errorf("after PUT priority: %+v", c)
	}
	// A masked key sent back keeps the stored one.
	c = channelOf(t, ts.do("PUT", "/admin/config/"+id, bearer, `{"api_key":"`+c.APIKey+`","model":"gpt-4o"}`))
	if s, _ := ts.admin.get(id); s.APIKey != key || s.Model == nil || *s.Model != "gpt-4o" {
		t.Errorf("stored after PUT with masked key: %+v", s)
	}
	// A GET answer sent back as the body is accepted (read-only fields ignored).
	back, _ := json.Marshal(c)
	channelOf(t, ts.do("PUT", "/admin/config/"+id, bearer, string(back)))

	// Delete.
	w = ts.do("DELETE", "/admin/config/"+id, bearer, "")
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("DELETE: %d %q, want 204 and no body", w.Code, w.Body)
	}
	if _, ok := ts.admin.get(id); ok {
		t.Error("channel still there after DELETE")
	}

	// Unknown ids.
	for _, tt := range []struct{ method, body string }{{"DELETE", ""}, {"PUT", `{"priority":1}`}} {
		e := errorOf(t, ts.do(tt.method, "/admin/config/"+id, bearer, tt.body), http.StatusNotFound)
		if e["code"] != "not_found" {
			t.Errorf("%s unknown id: code %v", tt.method, e["code"])
		}
	}
}

func TestAdminBadInput(t *testing.T) {
	const good = `"priority":1,"url":"https://api.example.com/v1","api_key":"sk-abcdefghijklmnop"`
	tests := []struct {
		name   string
		method string // POST creates; PUT updates the existing channel
		body   string
		param  string // "" = not a field error
		code   string
	}{
		{"priority not a number", "POST", `{"priority":"high","url":"https://a/v1","api_key":"k"}`, "priority", "invalid_value"},
		{"unknown field", "POST", `{` + good + `,"priorty":2}`, "priorty", "invalid_value"},
		{"missing url", "POST", `{"priority":1,"api_key":"sk-abcdefghijklmnop"}`, "url", "invalid_value"},
		{"missing api_key", "POST", `{"priority":1,"url":"https://a/v1"}`, "api_key", "invalid_value"},
		{"missing priority", "POST", `{"url":"https://a/v1","api_key":"k"}`, "priority", "invalid_value"},
		{"ftp url", "POST", `{"priority":1,"url":"ftp://a/v1","api_key":"k"}`, "url", "invalid_value"},
		{"url with credentials", "POST", `{"priority":1,"url":"https://u:p@a/v1","api_key":"k"}`, "url", "invalid_value"},
		{"zero timeout", "POST", `{` + good + `,"timeout_seconds":0}`, "timeout_seconds", "invalid_value"},
		{"too many retries", "PUT", `{"max_retries":99}`, "max_retries", "invalid_value"},
		{"null priority", "PUT", `{"priority":null}`, "priority", "invalid_value"},
		{"enabled not a bool", "PUT", `{"enabled":"yes"}`, "enabled", "invalid_value"},
		{"empty scheme", "PUT", `{"scheme_name":"  "}`, "scheme_name", "invalid_value"},
		{"malformed JSON", "PUT", `{"priority":1`, "", "invalid_json"},
		{"not an object", "POST", `[` + `{` + good + `}]`, "", "invalid_json"},
		{"invalid UTF-8", "PUT", "{\"name\":\"\xff\"}", "", "invalid_json"},
		{"empty body", "POST", ``, "", "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, nil)
			c := channelOf(t, ts.do("POST", "/admin/config", bearer, `{`+good+`}`))
			before, _ := ts.admin.Channels(context.Background())
			target := "/admin/config"
			if tt.method == "PUT" {
				target += "/" + c.ID
			}
			w := ts.do(tt.method, target, bearer, tt.body)
			e := errorOf(t, w, http.StatusBadRequest)
			if e["type"] != "invalid_request_error" || e["code"] != tt.code {
				t.Errorf("error %v, want invalid_request_error / %s", e, tt.code)
			}
			if tt.param != "" && e["param"] != tt.param {
				t.Errorf("param %v, want %q", e["param"], tt.param)
			}
			after, _ := ts.admin.Channels(context.Background())
			if !reflect.DeepEqual(before, after) {
				t.Errorf("a rejected request changed the config:\n before %+v\n after  %+v", before, after)
			}
		})
	}
}

func TestAdminContentType(t *testing.T) {
	ts := newTestServer(t, nil)
	w := ts.do("POST", "/admin/config", bearer, `{"priority":1,"url":"https://a/v1","api_key":"k"}`, "Content-Type", "multipart/form-data; boundary=x")
	errorOf(t, w, http.StatusUnsupportedMediaType)
	if len(ts.admin.chans) != 0 {
		t.Error("a refused request created a channel")
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Length", "999")
	writeError(w, dialect.Errorf(418, "teapot", "short_and_stout", "I'm a teapot"), dialect.Chat)
	if w.Code != 418 {
		t.Fatalf("status %d", w.Code)
	}
	want := `{"error":{"message":"I'm a teapot","type":"teapot","param":null,"code":"short_and_stout"}}`
	if w.Body.String() != want {
		t.Errorf("body %s\nwant %s", w.Body, want)
	}
	if cl := w.Header().Get("Content-Length"); cl != fmt.Sprint(len(want)) {
		t.Errorf("Content-Length %q, want %d", cl, len(want))
	}
	if got := StatusOf(&channel.FieldError{Field: "url", Msg: "bad"}); got != 400 {
		t.Errorf("StatusOf(FieldError) = %d", got)
	}
	if got := StatusOf(fmt.Errorf("x: %w", channel.ErrNotFound)); got != 404 {
		t.Errorf("StatusOf(ErrNotFound) = %d", got)
	}
	if got := StatusOf(context.Canceled); got != dialect.StatusClientClosed {
		t.Errorf("StatusOf(Canceled) = %d", got)
	}
	var doc map[string]map[string]any
	json.Unmarshal(dialect.OpenAIErrorJSON("t", "", "m", "p"), &doc)
	if doc["error"]["code"] != nil || doc["error"]["param"] != "p" {
		t.Errorf("ErrorJSON without code: %v", doc)
	}
	if keys := slices.Sorted(maps.Keys(doc["error"])); !reflect.DeepEqual(keys, []string{"code", "message", "param", "type"}) {
		t.Errorf("error keys %v", keys)
	}
}

// PathValue is unescaped, so /v1/..%2Fadmin reached the engine as Path
// "/../admin", and the upstream URL became <base>/v1/../admin: a client
// could step out of the channel's base path on the upstream host,
// carrying the channel's key. Dot segments are refused with a 400 before
// the proxy sees the request.
func TestProxyPathDotSegmentsStayUnderV1(t *testing.T) {
	ts := newTestServer(t, nil)
	srv := httptest.NewServer(ts)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{"/v1/..%2Fadmin", "/v1/chat%2F..%2F..%2Fx", "/v1/%2E%2E/x"} {
		req, _ := http.NewRequest("POST", srv.URL+p, strings.NewReader(`{"model":"m"}`))
		req.Header.Set("Authorization", bearer)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"code":"invalid_path"`) {
			t.Errorf("%s: %d %s, want 400 invalid_path", p, resp.StatusCode, body)
		}
		if ts.proxy.count() != 0 {
			t.Fatalf("%s reached the proxy as Path %q", p, ts.proxy.last(t).Path)
		}
	}
}
