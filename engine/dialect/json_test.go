package dialect

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `quote " and \ backslash`, "line\nbreak\r\ttab", "\x00\x01\x1f\x7f",
		"<html> & 'x'", "中文 and emoji 🐟", "bad \xff utf8", "sep \u2028 \u2029 end", strings.Repeat("ab", 100)}
	for _, s := range cases {
		got := string(AppendString([]byte("x"), s))[1:]
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("%q: %s is not a JSON string: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		// encoding/json escapes <, > and & for HTML; AppendString does not.
		wantText := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(want))
		if got != wantText {
			t.Errorf("%q: got %s, want %s", s, got, wantText)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello \"world\"\n\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q: %s: %v", s, out, err)
		}
		// encoding/json decodes to the same text (each invalid byte a U+FFFD).
		var want string
		std, _ := json.Marshal(s)
		json.Unmarshal(std, &want)
		if back != want {
			t.Fatalf("round trip of %q: got %q, want %q", s, back, want)
		}
	})
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID("msg_")
		if len(id) != 28 || !strings.HasPrefix(id, "msg_") || strings.Trim(id[4:], hexDigits) != "" || seen[id] {
			t.Fatalf("id %q", id)
		}
		seen[id] = true
	}
}
