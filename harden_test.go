package main

// Regression tests for what a hostile probe and a new user found (issue
// 16), against the built binary: bodies that trickle, client text that
// grows without bound, loops through Catfish itself, and the answers a
// newcomer meets first.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// TestHugeModelNameStaysSmall: a 20 MB "model" (and a long path) is kept
// and logged cut to a few hundred bytes, marked as cut: the request log
// line, /admin/logs and /admin/requests stay small.
func TestHugeModelNameStaysSmall(t *testing.T) {
	s := enginetest.Start(t)
	up := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "fine") })
	s.AddChannel(map[string]any{"url": up.V1()})
	model := strings.Repeat("m", 20<<20)
	body, _ := json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "hi"}}})
	outBefore := len(s.Out.String())
	longPath := "/v1/chat/completions?" + strings.Repeat("q", 100) // the query is never logged
	for range 3 {
		if code, _, got := s.Request("POST", longPath, "application/json", body); code != 200 {
			t.Fatalf("status %d: %.200s", code, got)
		}
	}
	if code, _, got := s.Request("POST", "/v1/"+strings.Repeat("p", 60<<10), "application/json", []byte(enginetest.ChatBody("default", false))); code != 200 {
		t.Fatalf("long path: status %d: %.200s", code, got)
	}
	var recent []struct {
		Model, Path string
	}
	enginetest.WaitFor(t, 10*time.Second, "four requests in /admin/requests", func() bool {
		recent = nil
		s.GetJSON("/admin/requests", &recent)
		return len(recent) == 4
	})
	_, _, raw := s.Request("GET", "/admin/requests", "", nil)
	if len(raw) > 16<<10 {
		t.Errorf("/admin/requests is %d bytes", len(raw))
	}
	for _, r := range recent[:3] {
		if len(r.Model) > 512 || !strings.Contains(r.Model, "cut") || !strings.HasPrefix(r.Model, "mmmm") {
			t.Errorf("recorded model: %d bytes, %.80q…", len(r.Model), r.Model)
		}
	}
	if p := recent[3].Path; len(p) > 512 || !strings.Contains(p, "cut") {
		t.Errorf("recorded path: %d bytes, %.80q…", len(p), p)
	}
	if _, _, logs := s.Request("GET", "/admin/logs", "", nil); len(logs) > 32<<10 {
		t.Errorf("/admin/logs is %d bytes", len(logs))
	}
	// The log lines travel through a pipe: they may trail the answers.
	enginetest.WaitFor(t, 5*time.Second, "four request log lines", func() bool {
		return strings.Count(s.Out.String()[outBefore:], `msg=request`) == 4
	})
	if grown := len(s.Out.String()) - outBefore; grown > 16<<10 {
		t.Errorf("four requests wrote %d bytes of log", grown)
	}
	if !strings.Contains(s.Out.String()[outBefore:], "cut") {
		t.Errorf("the log does not say the model was cut")
	}
}

// TestChannelPointingAtItselfGives508: a channel whose URL is Catfish's
// own address (with the admin key as its key) made one request nest
// thousands of hops deep. The hop header stops it at the second: the
// client gets 508 at once, no channel is blamed, descriptors and memory
// stay put, and the log warns about the channel.
func TestChannelPointingAtItselfGives508(t *testing.T) {
	s := enginetest.Start(t)
	id := s.AddChannel(map[string]any{"url": s.Base + "/v1", "api_key": enginetest.AdminKey, "name": "myself"})
	// The log line travels through a pipe: it may trail the answer.
	enginetest.WaitFor(t, 5*time.Second, "a warning about a channel pointing at Catfish itself", func() bool {
		return strings.Contains(s.Out.String(), "points at this Catfish")
	})
	// A client that gives up, so that a loop without the fix ends too.
	client := &http.Client{Timeout: 5 * time.Second}
	send := func() (int, http.Header, []byte, time.Duration) {
		req, _ := http.NewRequest("POST", s.Base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", false)))
		req.Header.Set("Authorization", "Bearer "+enginetest.AdminKey)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request: %v after %v", err, time.Since(start))
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, time.Since(start)
	}
	send() // warm up: connections, buffers
	fdsBefore, rssBefore := s.OpenFiles(), s.ProcStatus("VmRSS")
	for range 20 {
		code, hdr, body, took := send()
		if code != 508 || took > 2*time.Second {
			t.Fatalf("got %d after %v: %s; want 508 at once", code, took, body)
		}
		if _, _, c, _ := openAIError(t, "508", hdr, body); c != "loop_detected" {
			t.Errorf("code %q, want loop_detected", c)
		}
		wantChain(t, hdr, id+"=http_508")
	}
	if fds := s.OpenFiles(); fds > fdsBefore+10 {
		t.Errorf("open files: %d, before %d", fds, fdsBefore)
	}
	if rss := s.ProcStatus("VmRSS"); rss > rssBefore+64<<10 { // kB
		t.Errorf("RSS grew from %d kB to %d kB", rssBefore, rss)
	}
	if b := s.BreakerOf(id); b.State != "closed" || b.Fails != 0 {
		t.Errorf("breaker %+v: a loop counts against no channel", b)
	}
}

// TestCatfishChainKeepsWorking: Catfish in front of Catfish works, each
// adding its instance id to the hop header; two that point at each other
// answer 508 and blame no channel.
func TestCatfishChainKeepsWorking(t *testing.T) {
	x, y := enginetest.Start(t), enginetest.Start(t)
	var hop atomic.Value
	up := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		hop.Store(r.Header.Get("X-Catfish-Hop"))
		enginetest.WriteChat(w, "end of the chain")
	})
	x.AddChannel(map[string]any{"url": y.Base + "/v1", "api_key": enginetest.AdminKey})
	y.AddChannel(map[string]any{"url": up.V1()})
	if code, _, body := x.Chat("default", false); code != 200 || !strings.Contains(body, "end of the chain") {
		t.Fatalf("through two instances: %d %s", code, body)
	}
	ids := strings.Split(hop.Load().(string), ", ")
	if len(ids) != 2 || ids[0] == ids[1] || ids[0] == "" || !strings.Contains(x.Out.String(), "instance="+ids[0]) ||
		!strings.Contains(y.Out.String(), "instance="+ids[1]) {
		t.Errorf("hop header at the end %q, want x's id then y's", hop.Load())
	}

	xy := x.AddChannel(map[string]any{"url": y.Base + "/v1", "api_key": enginetest.AdminKey, "scheme_name": "loop"})
	yx := y.AddChannel(map[string]any{"url": x.Base + "/v1", "api_key": enginetest.AdminKey, "scheme_name": "loop"})
	start := time.Now()
	if code, _, body := x.Chat("loop", false); code != 508 || time.Since(start) > 2*time.Second {
		t.Errorf("two instances in a loop: %d after %v: %s", code, time.Since(start), body)
	}
	for _, b := range []enginetest.Breaker{x.BreakerOf(xy), y.BreakerOf(yx)} {
		if b.State != "closed" || b.Fails != 0 {
			t.Errorf("breaker %+v after a loop, want closed with no failure", b)
		}
	}
}

// TestAdminChangesAndFailedSignInsAreLogged: channel create, update and
// delete, and every failed sign-in on /admin and /v1, write a log line
// that says what happened and to which channel, and holds no key: not the
// channel's, not the one a client tried.
func TestAdminChangesAndFailedSignInsAreLogged(t *testing.T) {
	s := enginetest.Start(t)
	const upKey, upKey2, tried = "sk-upstream-logged-never-0001", "sk-upstream-logged-never-0002", "sk-guess-logged-never-0003"
	id := s.AddChannel(map[string]any{"url": "https://a.example/v1", "api_key": upKey, "name": "first"})
	if code, b := s.Admin("PUT", "/admin/config/"+id, map[string]any{"api_key": upKey2, "name": "second"}); code != 200 {
		t.Fatalf("update: %d %s", code, b)
	}
	if code, b := s.Admin("DELETE", "/admin/config/"+id, nil); code != 204 {
		t.Fatalf("delete: %d %s", code, b)
	}
	for _, r := range []struct{ method, path, auth string }{
		{"GET", "/admin/config", "Bearer " + tried},
		{"POST", "/v1/chat/completions", "Bearer " + tried},
		{"GET", "/admin/export", ""},
		{"POST", "/v1/chat/completions", "Basic " + tried},
	} {
		req, _ := http.NewRequest(r.method, s.Base+r.path, strings.NewReader(enginetest.ChatBody("default", false)))
		if r.auth != "" {
			req.Header.Set("Authorization", r.auth)
		}
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("%s %s: %d, want 401", r.method, r.path, resp.StatusCode)
		}
	}
	var lines []string
	s.GetJSON("/admin/logs", &lines)
	find := func(what string, parts ...string) {
		t.Helper()
		for _, l := range lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				return
			}
		}
		t.Errorf("no log line for %s (with %q) in:\n%s", what, parts, strings.Join(lines, "\n"))
	}
	find("the create", "channel created", id, "first")
	find("the update", "channel updated", id, "api_key", "name")
	find("the delete", "channel deleted", id)
	find("the wrong admin key", "sign-in failed", "/admin/config", "wrong key")
	find("the wrong /v1 key", "sign-in failed", "/v1/chat/completions", "wrong key")
	find("no key", "sign-in failed", "/admin/export", "no key")
	find("a Basic key", "sign-in failed", "/v1/chat/completions", "not a bearer")
	out := s.Out.String()
	for _, k := range []string{upKey, upKey2, tried, enginetest.AdminKey} {
		if strings.Contains(out, k) || strings.Contains(strings.Join(lines, "\n"), k) {
			t.Errorf("a log line holds the key %s", k)
		}
	}
}

// TestWrongMethodsAndStrangePaths: a wrong method on an API path is a 405
// that says which methods are allowed, not "Unknown request URL"; a path
// that fits nothing, "/%2e%2e/..." included, is a JSON 404 like every
// other error; the admin page still loads.
func TestWrongMethodsAndStrangePaths(t *testing.T) {
	s := enginetest.Start(t)
	id := s.AddChannel(map[string]any{"url": "https://a.example/v1"})
	raw := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, s.Base+"/", nil)
		req.URL.Opaque = path // sent as written
		req.Header.Set("Authorization", "Bearer "+enginetest.AdminKey)
		resp, err := (&http.Transport{}).RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/v1/chat/completions", "OPTIONS, POST"},
		{"PUT", "/v1/embeddings", "OPTIONS, POST"},
		{"DELETE", "/v1/models", "GET, HEAD, OPTIONS, POST"},
		{"PATCH", "/admin/config/" + id, "DELETE, PUT"},
		{"GET", "/admin/config/" + id + "/test", "POST"},
		{"POST", "/admin/stats", "GET, HEAD"},
		{"DELETE", "/admin/config", "GET, HEAD, POST"},
	} {
		resp, body := raw(tc.method, tc.path)
		what := tc.method + " " + tc.path
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s: %d, Allow %q; want 405, Allow %q (%s)", what, resp.StatusCode, resp.Header.Get("Allow"), tc.allow, body)
			continue
		}
		if _, _, code, _ := openAIError(t, what, resp.Header, body); code != "method_not_allowed" {
			t.Errorf("%s: code %q", what, code)
		}
	}
	for _, p := range []string{"/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e/admin/config", "/nothing.css", "/admin/nothing", "/adminx"} {
		resp, body := raw("GET", p)
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %d %s, want 404", p, resp.StatusCode, body)
			continue
		}
		if _, _, code, _ := openAIError(t, "GET "+p, resp.Header, body); code != "unknown_url" {
			t.Errorf("GET %s: code %q", p, code)
		}
	}
	if resp, body := raw("GET", "/"); resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
		t.Errorf("GET /: %d %.100s", resp.StatusCode, body)
	}
}

// TestUnauthorizedSaysWhereTheKeyComesFrom: the 401 tells a newcomer
// where the key is (ADMIN_KEY from the environment or .env, else the
// generated data/admin_key) and shows "<key>" as written, not HTML-escaped.
func TestUnauthorizedSaysWhereTheKeyComesFrom(t *testing.T) {
	s := enginetest.Start(t)
	for _, p := range []string{"/admin/config", "/v1/models", "/metrics"} {
		resp, err := s.Client.Get(s.Base + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("GET %s: %d, want 401", p, resp.StatusCode)
		}
		for _, want := range []string{"Authorization: Bearer <key>", "ADMIN_KEY", ".env", "data/admin_key"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("GET %s: the 401 %s lacks %q", p, body, want)
			}
		}
		if strings.Contains(string(body), `\u003c`) {
			t.Errorf("GET %s: the 401 escapes HTML: %s", p, body)
		}
	}
}

// trickled is what one trickling client saw: the status line it got, if
// any, and when the server closed the connection.
type trickled struct {
	status   string
	answered time.Duration // to the first byte of the answer; 0: none
	closed   time.Duration // to the end of the connection; 0: still open at the limit
}

// trickle opens a connection, sends the head of a POST with a large
// Content-Length and the first bytes of its body, then one byte every
// 200 ms, and watches what the server does, for at most limit.
func trickle(s *enginetest.Proc, path, auth string, limit time.Duration) (trickled, error) {
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		return trickled{}, err
	}
	defer conn.Close()
	head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
	if auth != "" {
		head += "Authorization: " + auth + "\r\n"
	}
	start := time.Now()
	if _, err := conn.Write([]byte(head + "\r\n{\"model\":")); err != nil {
		return trickled{}, err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < int(limit/(200*time.Millisecond)); i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	var got trickled
	var answer []byte
	buf := make([]byte, 4096)
	conn.SetReadDeadline(start.Add(limit))
	for {
		n, err := conn.Read(buf)
		if n > 0 && got.answered == 0 {
			got.answered = time.Since(start)
		}
		answer = append(answer, buf[:n]...)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				got.closed = time.Since(start)
			}
			break
		}
	}
	got.status, _, _ = strings.Cut(string(answer), "\r\n")
	return got, nil
}

// TestTricklingBodiesAreCutOff: clients that send a request's head and
// then its body a byte at a time cannot hold connections. Without a key
// (or with a request refused before its body is read) they get their
// answer at once and the connection closes: the body is never read. With
// the key, the body must keep coming at a decent rate after a 10-second
// grace, or the connection ends; so does one whose body the handler never
// reads. Descriptors go back to where they were, and others are served
// meanwhile.
func TestTricklingBodiesAreCutOff(t *testing.T) {
	slowTest(t)
	s := enginetest.Start(t)
	id := s.AddChannel(map[string]any{"url": "https://a.example/v1"})
	fdsBefore := s.OpenFiles()
	type job struct {
		name, path, auth string
		early            bool // answered and closed at once
	}
	var jobs []job
	for i := 0; i < 40; i++ {
		jobs = append(jobs,
			job{"no key, /v1", "/v1/chat/completions", "", true},
			job{"wrong key, /admin", "/admin/config", "Bearer wrong-key", true},
			job{"key, refused before the body", "/admin/stats", "Bearer " + enginetest.AdminKey, true},
			job{"key, /v1", "/v1/chat/completions", "Bearer " + enginetest.AdminKey, false},
			job{"key, /admin", "/admin/import", "Bearer " + enginetest.AdminKey, false},
			job{"key, body never read", "/admin/config/" + id + "/reset", "Bearer " + enginetest.AdminKey, false})
	}
	results := make([]trickled, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { results[i], errs[i] = trickle(s, j.path, j.auth, 25*time.Second) })
	}
	time.Sleep(time.Second)
	if code, _, _ := s.Request("GET", "/healthz", "", nil); code != 200 {
		t.Errorf("healthz while %d clients trickle: %d", len(jobs), code)
	}
	wg.Wait()
	for i, j := range jobs {
		r, what := results[i], fmt.Sprintf("%s (%s %d)", j.name, j.path, i)
		if errs[i] != nil {
			t.Fatalf("%s: %v", what, errs[i])
		}
		if r.closed == 0 {
			t.Errorf("%s: still open after 25 s (answer %q after %v)", what, r.status, r.answered)
			continue
		}
		if j.early {
			if !strings.HasPrefix(r.status, "HTTP/1.1 4") || r.answered > 3*time.Second || r.closed > 5*time.Second {
				t.Errorf("%s: %q after %v, closed after %v; want an answer at once, then the end", what, r.status, r.answered, r.closed)
			}
			continue
		}
		if r.closed < 8*time.Second || r.closed > 16*time.Second {
			t.Errorf("%s: closed after %v (answer %q), want after about 10 s", what, r.closed, r.status)
		}
	}
	enginetest.WaitFor(t, 10*time.Second, "descriptors back to normal", func() bool { return s.OpenFiles() <= fdsBefore+5 })
	if code, _, _ := s.Request("GET", "/healthz", "", nil); code != 200 {
		t.Errorf("healthz afterwards: %d", code)
	}
}
