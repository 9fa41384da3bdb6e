package dialect

import (
	"strings"
	"testing"
)

func TestStripUnsignedThinking(t *testing.T) {
	tests := []struct {
		name, in string
		changed  bool
		has, not []string
	}{
		{"no thinking", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, false, nil, nil},
		{"signed thinking stays",
			`{"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"sig"},{"type":"text","text":"a"}]}]}`,
			false, nil, nil},
		{"unsigned thinking goes, the rest stays",
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"q","cache_control":{"type":"ephemeral"}}]},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":""},{"type":"tool_use","id":"toolu_1","name":"Write","input":{"a":1}}]}]}`,
			true, []string{`"cache_control":{"type":"ephemeral"}`, `"tool_use"`, `"model":"m"`}, []string{`"thinking"`}},
		{"a turn of only unsigned thinking keeps a placeholder",
			`{"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t"}]},{"role":"user","content":"go on"}]}`,
			true, []string{`"text":"…"`}, []string{`"thinking":"t"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed := StripUnsignedThinking([]byte(tt.in))
			if changed != tt.changed {
				t.Fatalf("changed = %v, want %v: %s", changed, tt.changed, out)
			}
			if !changed && string(out) != tt.in {
				t.Fatalf("unchanged body altered: %s", out)
			}
			for _, s := range tt.has {
				if !strings.Contains(string(out), s) {
					t.Errorf("lost %s: %s", s, out)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(string(out), s) {
					t.Errorf("kept %s: %s", s, out)
				}
			}
		})
	}
}
