package proxy

import (
	"bytes"
	"encoding/json"
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
		{"escaped twice", `{"m":"a\\u0073k-proj-0123456789abcdef\n"}`, key, `{"m":"ask-…cdef\n"}`},
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
	copyAnswerHeaders(dst, src, []string{key})
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

// FuzzRedactKey: whatever an upstream sends, no reader can find the key
// in what redactKey returns, neither byte for byte nor by decoding JSON
// strings or \uXXXX and \/ escapes; valid JSON stays valid; and a text
// that holds the key in no form comes back unchanged.
func FuzzRedactKey(f *testing.F) {
	const key = "sk-a/b0123456789"
	for _, s := range []string{
		`{"error":{"message":"bad key sk-a/b0123456789"}}`,
		`{"error":{"message":"bad key sk-a\/b0123456789"}}`,
		`{"m":"\u0073\u006b-a\/b0123456789"}`,
		`Unauthorized: \u0073k-a\/b0123456789`,
		`{"m":"a\\u0073k-a\\/b0123456789"}`,
		`{"\u0073k-a/b0123456789":[1,"x",{"k":"\ud83d\ude00"}]}`,
		`plain text without anything`,
		`"unterminated \u0073k-a/b0123456789`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := redactKey(bytes.Clone(in), key)
		for _, text := range revealed(out) {
			if bytes.Contains(text, []byte(key)) {
				t.Fatalf("redactKey(%q) = %q: the key is still there (%q)", in, out, text)
			}
		}
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("redactKey(%q) = %q: no longer JSON", in, out)
		}
		hidden := true
		for _, text := range revealed(in) {
			hidden = hidden && !bytes.Contains(text, []byte(key))
		}
		if hidden && !bytes.Equal(in, out) {
			t.Fatalf("redactKey(%q) = %q: changed a text without the key", in, out)
		}
	})
}

// revealed returns b and what a reader could decode from it: every JSON
// string literal decoded, and the loose escapes of each resolved.
func revealed(b []byte) [][]byte {
	out := [][]byte{b, unescapeLoose(b)}
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(b) {
			break
		}
		var s string
		if json.Unmarshal(b[i:j+1], &s) == nil {
			out = append(out, []byte(s), unescapeLoose([]byte(s)))
		}
		i = j
	}
	return out
}
