package proxy

import (
	"net/http"
	"testing"
)

func TestRedactKey(t *testing.T) {
	const key = "sk-proj-0123456789abcdef"
	cases := []struct{ name, in, key, want string }{
		{"absent", `{"error":"nope"}`, key, `{"error":"nope"}`},
		{"once", `{"error":{"message":"Incorrect API key provided: sk-proj-0123456789abcdef."}}`, key,
			`{"error":{"message":"Incorrect API key provided: sk-…cdef."}}`},
		{"twice", "Bearer " + key + " / " + key, key, "Bearer sk-…cdef / sk-…cdef"},
		{"short key left alone", `{"n":1234}`, "1234", `{"n":1234}`},
		{"empty key", `abc`, "", `abc`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(redactKey([]byte(tc.in), tc.key)); got != tc.want {
				t.Errorf("redactKey: got %q, want %q", got, tc.want)
			}
			if got := redactKeyString(tc.in, tc.key); got != tc.want {
				t.Errorf("redactKeyString: got %q, want %q", got, tc.want)
			}
		})
	}
	// Without the key, the very same slice comes back: no copy on the hot path.
	b := []byte(`{"ok":true}`)
	if got := redactKey(b, key); &got[0] != &b[0] {
		t.Errorf("redactKey copied a body without the key")
	}
}

func TestCopyAnswerHeadersRedactsWithoutTouchingTheSource(t *testing.T) {
	const key = "sk-proj-0123456789abcdef"
	src := http.Header{"X-Echo": {"ok", "Bearer " + key}, "X-Plain": {"v"}, "Set-Cookie": {"a=b"}}
	dst := http.Header{}
	copyAnswerHeaders(dst, src, []string{key})
	if got := dst["X-Echo"]; len(got) != 2 || got[0] != "ok" || got[1] != "Bearer sk-…cdef" {
		t.Errorf("X-Echo: %q", got)
	}
	if src["X-Echo"][1] != "Bearer "+key {
		t.Errorf("the upstream's header was changed in place")
	}
	if dst.Get("X-Plain") != "v" || dst.Get("Set-Cookie") != "" {
		t.Errorf("headers: %v", dst)
	}
}
