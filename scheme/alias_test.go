package scheme

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"claude-*-haiku-*", "claude-3-5-haiku-20241022", true},
		{"claude-*-haiku-*", "claude-haiku-4-5", false},
		{"claude-*", "claude-", true},
		{"claude-*", "claude", false},
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "x", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*opus*", "claude-opus-4-1", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"**", "x", true},
		{"gpt-?", "gpt-4", false}, // only * is special
		{"gpt-?", "gpt-?", true},
		{"a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func FuzzGlobAgreesWithAStarOnlyMatcher(f *testing.F) {
	f.Add("a*b", "axxb")
	f.Add("*x*", "yxy")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 12 || len(name) > 24 {
			return
		}
		if got, want := Glob(pattern, name), naiveGlob(pattern, name); got != want {
			t.Fatalf("Glob(%q, %q) = %v, want %v", pattern, name, got, want)
		}
	})
}

// naiveGlob is the obvious recursive matcher, exponential but plain.
func naiveGlob(p, n string) bool {
	if p == "" {
		return n == ""
	}
	if p[0] == '*' {
		for i := 0; i <= len(n); i++ {
			if naiveGlob(p[1:], n[i:]) {
				return true
			}
		}
		return false
	}
	return n != "" && p[0] == n[0] && naiveGlob(p[1:], n[1:])
}

func TestRouterAliases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "main")
		ctx := context.Background()
		mustPut(t, r, member("m", "main", 1, 1), member("f", "fast", 1, 2), member("o", "opus", 1, 3))
		err := r.SetAliases(ctx, map[string][]string{
			"fast":  {"claude-*-haiku-*", "claude-haiku-*"},
			"opus":  {"claude-opus-4-1", "claude-*"},
			"ghost": {"ghost-model"}, // a scheme without channels routes nothing
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ model, want string }{
			{"claude-3-5-haiku-20241022", "fast"},
			{"claude-haiku-4-5", "fast"},
			{"claude-opus-4-1", "opus"},
			{"claude-sonnet-4-5", "opus"}, // opus's glob
			{"opus", "opus"},              // scheme names come first
			{"ghost-model", "main"},       // no channels: the default
			{"gpt-4o", "main"},
		} {
			if name, _ := plan(t, r, tt.model); name != tt.want {
				t.Errorf("model %q: got scheme %q, want %q", tt.model, name, tt.want)
			}
		}
		// Rank: in scheme-name order, the first alias that matches wins,
		// exact or glob.
		if err := r.SetAliases(ctx, map[string][]string{"fast": {"claude-*"}, "opus": {"claude-opus-4-1"}}); err != nil {
			t.Fatal(err)
		}
		if name, _ := plan(t, r, "claude-opus-4-1"); name != "fast" {
			t.Errorf("fast's glob ranks before opus's exact alias: got %q", name)
		}
		// Replacing the table drops the old aliases.
		if err := r.SetAliases(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if name, _ := plan(t, r, "claude-haiku-4-5"); name != "main" {
			t.Errorf("after clearing: got %q, want main", name)
		}
	})
}

func TestRouterScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "main")
		ctx := context.Background()
		mustPut(t, r, member("m", "main", 1, 1), member("f", "fast", 1, 2), member("o", "opus", 1, 3))
		if err := r.SetAliases(ctx, map[string][]string{"opus": {"claude-*"}}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			model string
			scope Scope
			want  string
			err   error
		}{
			{"fast", Scope{"fast"}, "fast", nil},
			{"fast", Scope{"main"}, "", ErrOutOfScope},             // names a scheme it may not use
			{"claude-x", Scope{"fast", "main"}, "", ErrOutOfScope}, // an alias of one it may not use
			{"unknown", Scope{"fast", "opus"}, "fast", nil},        // default is outside: first allowed by name
			{"unknown", Scope{"main", "opus"}, "main", nil},
			{"unknown", Scope{"gone"}, "", ErrOutOfScope}, // no allowed scheme exists
			{"unknown", nil, "main", nil},
			{"unknown", Scope{}, "", ErrOutOfScope}, // an empty non-nil scope allows nothing
		}
		for _, tt := range tests {
			p, err := r.Plan(ctx, tt.model, tt.scope)
			if !errors.Is(err, tt.err) || (err == nil && p.Scheme() != tt.want) {
				t.Errorf("model %q scope %v: got %q, %v; want %q, %v", tt.model, tt.scope, p.Scheme(), err, tt.want, tt.err)
			}
		}
	})
}
