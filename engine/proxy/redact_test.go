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
		{"escaped slash", `{"error":{"message":"bad key sk-a\/0123456789","code":"x\/y"}}`, "sk-a/0123456789",
			`{"error":{"message":"bad key sk-…6789","code":"x\/y"}}`},
		{"unicode escapes", `{"e":"k=\u0073\u006b-proj-0123456789abcdef", "n": 1 ,"f":"\u00e9"}`, key,
			`{"e":"k=sk-…cdef", "n": 1 ,"f":"\u00e9"}`},
		{"escaped key in a JSON object key", `{"\u0073k-proj-0123456789abcdef":1}`, key, `{"sk-…cdef":1}`},
		{"HTML characters stay", `{"m":"<b>\u0073k-proj-0123456789abcdef</b>"}`, key, `{"m":"<b>sk-…cdef</b>"}`},
		{"escaped in plain text", `Unauthorized: Bearer \u0073k-proj-0123456789abcdef`, key, `Unauthorized: Bearer sk-…cdef`},
		{"slash in plain text", `Unauthorized: sk-a\/0123456789`, "sk-a/0123456789", `Unauthorized: sk-…6789`},
		{"surrogate pair", `{"m":"\ud83d\ude00 \u0073k-proj-0123456789abcdef"}`, key, `{"m":"😀 sk-…cdef"}`},
		{"escapes without the key untouched", `{"m":"\u0041\/\n"} \u0041`, key, `{"m":"\u0041\/\n"} \u0041`},
		{"unterminated string", `{"m":"\u0073k-proj-0123456789abcdef`, key, `{"m":"sk-…cdef`},
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
	for _, in := range []string{`{"ok":true}`, `{"ok":"\u0041\/"}`} {
		b := []byte(in)
		if got := redactKey(b, key); &got[0] != &b[0] {
			t.Errorf("redactKey copied %s, which holds no key", in)
		}
	}
}

func TestCopyAnswerHeadersRedactsWithoutTouchingTheSource(t *testing.T) {
	const key = "sk-proj-0123456789abcdef"
	src := http.Header{"X-Echo": {"ok", "Bearer " + key, `{"k":"\u0073k-proj-0123456789abcdef"}`}, "X-Plain": {"v"}, "Set-Cookie": {"a=b"}}
	dst := http.Header{}
	copyAnswerHeaders(dst, src, key)
	if got := dst["X-Echo"]; len(got) != 3 || got[0] != "ok" || got[1] != "Bearer sk-…cdef" || got[2] != `{"k":"sk-…cdef"}` {
		t.Errorf("X-Echo: %q", got)
	}
	if src["X-Echo"][1] != "Bearer "+key {
		t.Errorf("the upstream's header was changed in place")
	}
	if dst.Get("X-Plain") != "v" || dst.Get("Set-Cookie") != "" {
		t.Errorf("headers: %v", dst)
	}
}
