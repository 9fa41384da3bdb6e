package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestUIHandlerHeaders(t *testing.T) {
	files := fstest.MapFS{
		"index.html": {Data: []byte("<!doctype html><title>x</title>")},
		"app.js":     {Data: []byte("export {}")},
	}
	h := uiHandler(files)
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/", http.StatusOK, "text/html"},
		{"/app.js", http.StatusOK, "text/javascript"},
		{"/missing.css", http.StatusNotFound, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("GET %s: got status %d, want %d", tc.path, rec.Code, tc.status)
		}
		if got := rec.Header().Get("Content-Type"); tc.ctype != "" && !strings.HasPrefix(got, tc.ctype) {
			t.Errorf("GET %s: got Content-Type %q, want %s", tc.path, got, tc.ctype)
		}
		for name, want := range map[string]string{
			"Content-Security-Policy": uiCSP,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-cache",
		} {
			if got := rec.Header().Get(name); got != want {
				t.Errorf("GET %s: got %s %q, want %q", tc.path, name, got, want)
			}
		}
	}
	// A miss is a JSON error like any other, not the file server's text.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/%2e%2e/missing", nil))
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(rec.Body.String(), `{"error":{"message":"Unknown request URL: GET /../missing"`) {
		t.Errorf("GET /%%2e%%2e/missing: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: got status %d, want 405", rec.Code)
	}
	if strings.Contains(uiCSP, "unsafe-inline") || !strings.Contains(uiCSP, "script-src 'self'") {
		t.Errorf("CSP allows inline script: %s", uiCSP)
	}
}
