package main

// Hostile input and access checks against the built binary: bad bodies
// get a clear OpenAI-shaped error and change nothing; the admin API is
// never reachable without the admin key; a client that trickles its
// headers is cut off.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// openAIError decodes an OpenAI error answer, failing when it is not one.
func openAIError(t *testing.T, what string, h http.Header, body []byte) (msg, typ, code, param string) {
	t.Helper()
	var doc struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
			Param   *string `json:"param"`
		} `json:"error"`
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Error == nil || doc.Error.Message == "" || doc.Error.Type == "" {
		t.Errorf("%s: not an OpenAI error: %s", what, body)
		return
	}
	msg, typ = doc.Error.Message, doc.Error.Type
	if doc.Error.Code != nil {
		code = *doc.Error.Code
	}
	if doc.Error.Param != nil {
		param = *doc.Error.Param
	}
	return
}

func TestBadInputChangesNothing(t *testing.T) {
	s := enginetest.Start(t, "BODY_LIMIT=4096")
	up := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "should not be asked") })
	id := s.AddChannel(map[string]any{"url": up.V1(), "name": "only"})
	_, _, before := s.Request("GET", "/admin/export", "", nil)

	big := `{"model":"default","messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`
	v1 := []struct {
		name, ct, body string
		chunked        bool // no Content-Length: the limit must hold while reading
		status         int
		code           string // error.code
		msg            string // part of error.message
	}{
		{"malformed JSON", "application/json", `{"model":"default","messages":[`, false, 400, "invalid_json", "parse the JSON"},
		{"trailing garbage", "application/json", `{"model":"default"} x`, false, 400, "invalid_json", ""},
		{"array", "application/json", `[{"model":"default"}]`, false, 400, "invalid_json", "JSON object"},
		{"string", "application/json", `"default"`, false, 400, "invalid_json", "JSON object"},
		{"number", "application/json", `42`, false, 400, "invalid_json", "JSON object"},
		{"null", "application/json", `null`, false, 400, "invalid_json", "JSON object"},
		{"empty body", "application/json", ``, false, 400, "invalid_json", "empty body"},
		{"over the limit", "application/json", big, false, 413, "request_too_large", "4096"},
		{"over the limit, chunked", "application/json", big, true, 413, "request_too_large", "4096"},
		{"wrong content type", "text/plain", enginetest.ChatBody("default", false), false, 415, "unsupported_media_type", "text/plain"},
		{"multipart content type", "multipart/form-data; boundary=x", enginetest.ChatBody("default", false), false, 415, "unsupported_media_type", ""},
		{"invalid UTF-8", "application/json", "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", false, 400, "invalid_json", "UTF-8"},
		{"missing model", "application/json", `{"messages":[{"role":"user","content":"hi"}]}`, false, 400, "missing_model", "model"},
		{"model not a string", "application/json", `{"model":7,"messages":[]}`, false, 400, "", ""},
	}
	for _, tc := range v1 {
		req, _ := http.NewRequest("POST", s.Base+"/v1/chat/completions", strings.NewReader(tc.body))
		if tc.chunked {
			req, _ = http.NewRequest("POST", s.Base+"/v1/chat/completions", io.MultiReader(strings.NewReader(tc.body)))
		}
		req.Header.Set("Authorization", "Bearer "+enginetest.AdminKey)
		req.Header.Set("Content-Type", tc.ct)
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, resp.StatusCode, tc.status, body)
			continue
		}
		msg, _, code, _ := openAIError(t, tc.name, resp.Header, body)
		if tc.code != "" && code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, code, tc.code)
		}
		if !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: message %q lacks %q", tc.name, msg, tc.msg)
		}
	}

	admin := []struct {
		name, method, path, ct, body string
		status                       int
		param                        string // the field the error names
	}{
		{"create without url", "POST", "/admin/config", "application/json", `{"priority":1,"api_key":"sk-x"}`, 400, "url"},
		{"create without api_key", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://127.0.0.1:1/v1"}`, 400, "api_key"},
		{"create without priority", "POST", "/admin/config", "application/json", `{"url":"http://127.0.0.1:1/v1","api_key":"sk-x"}`, 400, "priority"},
		{"url not http", "POST", "/admin/config", "application/json", `{"priority":1,"url":"file:///etc/passwd","api_key":"sk-x"}`, 400, "url"},
		{"url with credentials", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://u:p@127.0.0.1/v1","api_key":"sk-x"}`, 400, "url"},
		{"priority a string", "POST", "/admin/config", "application/json", `{"priority":"high","url":"http://127.0.0.1:1/v1","api_key":"sk-x"}`, 400, "priority"},
		{"priority a float", "POST", "/admin/config", "application/json", `{"priority":1.5,"url":"http://127.0.0.1:1/v1","api_key":"sk-x"}`, 400, "priority"},
		{"unknown field", "POST", "/admin/config", "application/json", `{"priorty":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-x"}`, 400, "priorty"},
		{"timeout zero", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-x","timeout_seconds":0}`, 400, "timeout_seconds"},
		{"max_retries too many", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-x","max_retries":99}`, 400, "max_retries"},
		{"negative cooldown", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-x","disable_duration_seconds":-1}`, 400, "disable_duration_seconds"},
		{"control character in key", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-\u0000x"}`, 400, "api_key"},
		{"empty scheme", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-x","scheme_name":" "}`, 400, "scheme_name"},
		{"enabled not a bool", "POST", "/admin/config", "application/json", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-x","enabled":"yes"}`, 400, "enabled"},
		{"create body an array", "POST", "/admin/config", "application/json", `[]`, 400, ""},
		{"create body malformed", "POST", "/admin/config", "application/json", `{"priority":`, 400, ""},
		{"create body invalid UTF-8", "POST", "/admin/config", "application/json", "{\"priority\":1,\"url\":\"http://127.0.0.1:1/v1\",\"api_key\":\"sk-\xff\"}", 400, ""},
		{"create wrong content type", "POST", "/admin/config", "text/plain", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-x"}`, 415, ""},
		{"update bad url", "PUT", "/admin/config/" + id, "application/json", `{"url":"ftp://x"}`, 400, "url"},
		{"update null priority", "PUT", "/admin/config/" + id, "application/json", `{"priority":null}`, 400, "priority"},
		{"update unknown field", "PUT", "/admin/config/" + id, "application/json", `{"nmae":"x"}`, 400, "nmae"},
		{"update unknown id", "PUT", "/admin/config/no-such-id", "application/json", `{"name":"x"}`, 404, ""},
		{"delete unknown id", "DELETE", "/admin/config/no-such-id", "", ``, 404, ""},
		{"reset unknown id", "POST", "/admin/config/no-such-id/reset", "", ``, 404, ""},
		{"import garbage", "POST", "/admin/import", "application/json", `{"default":[{"priority":`, 400, ""},
		{"import a bad channel", "POST", "/admin/import", "application/json", `{"default":[{"priority":1,"url":"ftp://x","api_key":"sk-x"}]}`, 400, ""},
		{"import not an object", "POST", "/admin/import", "application/json", `"x"`, 400, ""},
	}
	for _, tc := range admin {
		code, h, body := s.Request(tc.method, tc.path, tc.ct, []byte(tc.body))
		if code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, code, tc.status, body)
			continue
		}
		msg, _, _, param := openAIError(t, tc.name, h, body)
		if tc.param != "" && param != tc.param && !strings.Contains(msg, tc.param) {
			t.Errorf("%s: error %q (param %q) does not name %q", tc.name, msg, param, tc.param)
		}
	}

	if _, _, after := s.Request("GET", "/admin/export", "", nil); !bytes.Equal(before, after) {
		t.Errorf("a rejected request changed the configuration:\nbefore %s\nafter  %s", before, after)
	}
	if n := up.Hits(); n != 0 {
		t.Errorf("the upstream got %d requests from rejected ones", n)
	}
	// The proxy still serves.
	if code, _, body := s.Chat("default", false); code != 200 {
		t.Errorf("after the bad input: %d %s", code, body)
	}
}

// TestAdminNeedsTheKey tries every admin route, /metrics and /v1 without
// the key and with wrong ones: 401, OpenAI-shaped, and nothing done.
func TestAdminNeedsTheKey(t *testing.T) {
	s := enginetest.Start(t)
	up := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "x") })
	const secret = "sk-secret-upstream-key-9876543210"
	id := s.AddChannel(map[string]any{"url": up.V1(), "api_key": secret})
	_, _, before := s.Request("GET", "/admin/export", "", nil)

	routes := []struct{ method, path, body string }{
		{"GET", "/admin/config", ""},
		{"HEAD", "/admin/config", ""},
		{"POST", "/admin/config", `{"priority":1,"url":"http://127.0.0.1:1/v1","api_key":"sk-new"}`},
		{"PUT", "/admin/config/" + id, `{"name":"pwned"}`},
		{"PATCH", "/admin/config/" + id, `{"name":"pwned"}`},
		{"DELETE", "/admin/config/" + id, ""},
		{"POST", "/admin/config/" + id + "/test", ""},
		{"POST", "/admin/config/" + id + "/reset", ""},
		{"GET", "/admin/stats", ""},
		{"GET", "/admin/requests", ""},
		{"GET", "/admin/logs", ""},
		{"GET", "/admin/export", ""},
		{"POST", "/admin/import", `{"default":[]}`},
		{"POST", "/admin/import?mode=merge", `{"default":[]}`},
		{"GET", "/admin/", ""},
		{"GET", "/admin/export/", ""},
		{"GET", "/admin/nonexistent", ""},
		{"GET", "/metrics", ""},
		{"GET", "/v1/models", ""},
		{"POST", "/v1/chat/completions", enginetest.ChatBody("default", false)},
		{"POST", "/v1/embeddings", `{"model":"default","input":"x"}`},
	}
	auths := []struct{ name, value string }{
		{"no key", ""},
		{"wrong key", "Bearer wrong-key"},
		{"empty bearer", "Bearer "},
		{"key as Basic", "Basic " + enginetest.AdminKey},
		{"key without scheme", enginetest.AdminKey},
		{"key with a suffix", "Bearer " + enginetest.AdminKey + "x"},
		{"key prefix", "Bearer " + enginetest.AdminKey[:len(enginetest.AdminKey)-1]},
		{"key upper-cased", "Bearer " + strings.ToUpper(enginetest.AdminKey)},
	}
	for _, r := range routes {
		for _, a := range auths {
			req, _ := http.NewRequest(r.method, s.Base+r.path, strings.NewReader(r.body))
			if a.value != "" {
				req.Header.Set("Authorization", a.value)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := s.Client.Do(req)
			if err != nil {
				t.Fatalf("%s %s (%s): %v", r.method, r.path, a.name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			what := r.method + " " + r.path + " (" + a.name + ")"
			if resp.StatusCode != 401 {
				t.Errorf("%s: status %d, want 401 (%s)", what, resp.StatusCode, body)
				continue
			}
			if strings.Contains(string(body), secret) || strings.Contains(string(body), id) {
				t.Errorf("%s: the answer gives data away: %s", what, body)
			}
			if r.method != "HEAD" {
				if _, _, code, _ := openAIError(t, what, resp.Header, body); code != "invalid_api_key" {
					t.Errorf("%s: code %q, want invalid_api_key", what, code)
				}
			}
		}
	}
	// Spellings that the mux cleans or the UI catches give nothing away.
	for _, p := range []string{"//admin/export", "/admin/../admin/export", "/ADMIN/export", "/admin%2Fexport", "/./admin/export"} {
		req, _ := http.NewRequest("GET", s.Base+p, nil)
		req.URL.Opaque = p // sent as written
		resp, err := (&http.Transport{}).RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), secret) || strings.Contains(string(body), up.URL) {
			t.Errorf("GET %s without a key: %d gives the config away: %s", p, resp.StatusCode, body)
		}
	}

	if _, _, after := s.Request("GET", "/admin/export", "", nil); !bytes.Equal(before, after) {
		t.Errorf("an unauthorised request changed the configuration:\nbefore %s\nafter  %s", before, after)
	}
	if n := up.Hits(); n != 0 {
		t.Errorf("unauthorised requests reached the upstream %d times", n)
	}
	// The right key works everywhere read-only.
	for _, p := range []string{"/admin/config", "/admin/stats", "/admin/requests", "/admin/logs", "/admin/export", "/metrics", "/v1/models"} {
		if code, _, body := s.Request("GET", p, "", nil); code != 200 {
			t.Errorf("GET %s with the key: %d %s", p, code, body)
		}
	}
	// And the admin key never appears in the logs.
	if _, logs := s.Admin("GET", "/admin/logs", nil); strings.Contains(string(logs), enginetest.AdminKey) || strings.Contains(s.Out.String(), enginetest.AdminKey) {
		t.Errorf("the admin key appears in the logs")
	}
}

// TestSlowHeadersAreCutOff: a client that sends its headers a byte at a
// time, slower than ReadHeaderTimeout (10 s), is disconnected, and the
// server goes on serving others meanwhile.
func TestSlowHeadersAreCutOff(t *testing.T) {
	slowTest(t)
	s := enginetest.Start(t)
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + enginetest.AdminKey + "\r\nX-Padding: " + strings.Repeat("a", 200) + "\r\n\r\n"
	start := time.Now()
	writeErr := make(chan error, 1)
	var sent atomic.Int64
	go func() {
		for i := 0; i < len(head); i++ {
			if _, err := conn.Write([]byte{head[i]}); err != nil {
				writeErr <- err
				return
			}
			sent.Add(1)
			time.Sleep(250 * time.Millisecond) // 60+ s for the whole header
		}
		writeErr <- nil
	}()
	// Others are served while the slow client dawdles.
	enginetest.WaitFor(t, 5*time.Second, "the slow client under way", func() bool { return sent.Load() >= 4 })
	if code, _, _ := s.Request("GET", "/healthz", "", nil); code != 200 {
		t.Errorf("healthz while a client trickles: %d", code)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	took := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("still connected after %v", took)
	}
	if n > 0 {
		// Go's server may say 400 before it hangs up; never anything else.
		if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 4") {
			t.Errorf("the slow client got an answer: %q", buf[:n])
		}
		if _, err := conn.Read(buf); err == nil {
			t.Errorf("the connection stayed open after the timeout answer")
		}
	}
	if took < 9*time.Second || took > 15*time.Second {
		t.Errorf("disconnected after %v, want about 10 s (ReadHeaderTimeout)", took)
	}
	t.Logf("disconnected after %v (read: %d bytes, %v)", took.Round(time.Millisecond), n, err)
	conn.Close()
	select {
	case <-writeErr:
	case <-time.After(5 * time.Second):
		t.Errorf("the writer did not notice the closed connection")
	}
}
