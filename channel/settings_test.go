package channel

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func ptr[T any](v T) *T { return &v }

// fieldOf returns the Field of a *FieldError, or "" with ok false.
func fieldOf(err error) (string, bool) {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return "", false
	}
	return fe.Field, true
}

// checkFieldErr fails unless err is a *FieldError naming field (or err is
// nil when field is empty).
func checkFieldErr(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		return
	}
	got, ok := fieldOf(err)
	if !ok {
		t.Fatalf("got error %v (%T), want a *FieldError for %q", err, err, field)
	}
	if got != field {
		t.Fatalf("got error field %q (%v), want %q", got, err, field)
	}
	if !strings.HasPrefix(err.Error(), field+": ") {
		t.Fatalf("got message %q, want it to start with %q", err.Error(), field+": ")
	}
}

func set[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }
func null[T any]() Field[T]   { return Field[T]{Set: true, Null: true} }

func TestDecodePatch(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Patch
		wantErr string // field named by the error
	}{
		{name: "empty object", in: `{}`, want: Patch{}},
		{
			name: "every field",
			in: `{"priority": 2, "url": "https://a.example/v1", "api_key": "sk-x", "model": "gpt-4o",
				"consecutive_failure_threshold": 5, "disable_duration_seconds": 60, "name": "A",
				"enabled": false, "timeout_seconds": 30, "max_retries": 2, "scheme_name": "s"}`,
			want: Patch{
				Priority: set(2), URL: set("https://a.example/v1"), APIKey: set("sk-x"), Model: set("gpt-4o"),
				ConsecutiveFailureThreshold: set(5), DisableDurationSeconds: set(60), Name: set("A"),
				Enabled: set(false), TimeoutSeconds: set(30), MaxRetries: set(2), Scheme: set("s"),
			},
		},
		{name: "unknown field is named", in: `{"priorty": 1}`, wantErr: "priorty"},
		{name: "unknown field among good ones", in: `{"priority": 1, "api_kye": "x"}`, wantErr: "api_kye"},
		{name: "null model", in: `{"model": null}`, want: Patch{Model: null[string]()}},
		{name: "null threshold", in: `{"consecutive_failure_threshold": null}`, want: Patch{ConsecutiveFailureThreshold: null[int]()}},
		{name: "null disable duration", in: `{"disable_duration_seconds": null}`, want: Patch{DisableDurationSeconds: null[int]()}},
		{name: "null timeout", in: `{"timeout_seconds": null}`, want: Patch{TimeoutSeconds: null[int]()}},
		{name: "null max_retries", in: `{"max_retries": null}`, want: Patch{MaxRetries: null[int]()}},
		{name: "null name", in: `{"name": null}`, want: Patch{Name: null[string]()}},
		{name: "null priority rejected", in: `{"priority": null}`, wantErr: "priority"},
		{name: "null url rejected", in: `{"url": null}`, wantErr: "url"},
		{name: "null api_key rejected", in: `{"api_key": null}`, wantErr: "api_key"},
		{name: "null enabled rejected", in: `{"enabled": null}`, wantErr: "enabled"},
		{name: "null scheme_name rejected", in: `{"scheme_name": null}`, wantErr: "scheme_name"},
		{name: "priority as string", in: `{"priority": "1"}`, wantErr: "priority"},
		{name: "priority as fraction", in: `{"priority": 1.5}`, wantErr: "priority"},
		{name: "priority overflows int", in: `{"priority": 1e40}`, wantErr: "priority"},
		{name: "url as number", in: `{"url": 5}`, wantErr: "url"},
		{name: "api_key as object", in: `{"api_key": {}}`, wantErr: "api_key"},
		{name: "model as number", in: `{"model": 3}`, wantErr: "model"},
		{name: "enabled as string", in: `{"enabled": "yes"}`, wantErr: "enabled"},
		{name: "enabled as number", in: `{"enabled": 1}`, wantErr: "enabled"},
		{name: "max_retries as bool", in: `{"max_retries": true}`, wantErr: "max_retries"},
		{name: "timeout as string", in: `{"timeout_seconds": "30"}`, wantErr: "timeout_seconds"},
		{name: "scheme_name as array", in: `{"scheme_name": ["a"]}`, wantErr: "scheme_name"},
		{name: "name as number", in: `{"name": 1}`, wantErr: "name"},
		{
			name: "original catfishAPIAgg fields are ignored",
			in: `{"priority": 1, "request_overrides": {"temperature": 0}, "injection_position": "end",
				"injected_messages": [], "user_agent_mode": "auto", "custom_user_agent": "x",
				"stream_mode_strategy": "auto", "endpoint_preset": "openai", "image_upstream_mode": "x",
				"image_generation_path": "/x", "image_edit_path": "/y", "image_custom_generation_path": "",
				"image_custom_edit_path": "", "image_custom_reference_field": "", "image_custom_reference_mode": "",
				"image_custom_include_reference_when_empty": false, "image_task_poll_timeout_seconds": 1,
				"image_task_poll_interval_seconds": 1}`,
			want: Patch{Priority: set(1)},
		},
		{
			name: "read-only fields of a GET answer are ignored",
			in:   `{"id": "abc", "breaker": {"state": "open"}, "enabled": true}`,
			want: Patch{Enabled: set(true)},
		},
		{name: "JSON null body", in: `null`, wantErr: "body"},
		{name: "array body", in: `[]`, wantErr: "body"},
		{name: "string body", in: `"x"`, wantErr: "body"},
		{name: "empty body", in: ``, wantErr: "body"},
		{name: "truncated body", in: `{"priority": 1`, wantErr: "body"},
		{name: "trailing data", in: `{} {}`, wantErr: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePatch([]byte(tt.in))
			checkFieldErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				if !reflect.DeepEqual(got, Patch{}) {
					t.Fatalf("got patch %+v with an error, want the zero Patch", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodePatchTypeMessages(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"priority": "x"}`, "priority: must be an integer"},
		{`{"url": 1}`, "url: must be a string"},
		{`{"enabled": "x"}`, "enabled: must be true or false"},
		{`{"priority": null}`, "priority: must not be null"},
		{`{"bogus": 1}`, "bogus: is not a known field"},
	}
	for _, tt := range tests {
		_, err := DecodePatch([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("DecodePatch(%s): got %v, want %q", tt.in, err, tt.want)
		}
	}
}

const goodKey = "sk-abcdefghijklmnop"

func TestNewFromPatch(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Settings
		wantErr string
	}{
		{
			name: "minimal: defaults scheme and enabled",
			in:   `{"priority": 1, "url": "https://a.example/v1", "api_key": "sk-abcdefghijklmnop"}`,
			want: Settings{ID: "id1", Priority: 1, URL: "https://a.example/v1", APIKey: goodKey, Enabled: true, Scheme: DefaultScheme, Type: TypeOpenAI},
		},
		{
			name: "every field, trimmed",
			in: `{"priority": -3, "url": "  http://h:8080/v1/ ", "api_key": " sk-abcdefghijklmnop ", "model": " gpt-4o ",
				"consecutive_failure_threshold": 0, "disable_duration_seconds": 0, "name": " Main ",
				"enabled": false, "timeout_seconds": 5, "max_retries": 0, "scheme_name": " fast "}`,
			want: Settings{
				ID: "id1", Priority: -3, URL: "http://h:8080/v1/", APIKey: goodKey, Model: ptr("gpt-4o"),
				ConsecutiveFailureThreshold: ptr(0), DisableDurationSeconds: ptr(0), Name: "Main",
				Enabled: false, TimeoutSeconds: ptr(5), MaxRetries: ptr(0), Scheme: "fast", Type: TypeOpenAI,
			},
		},
		{
			name: "blank model and null options mean no override",
			in:   `{"priority": 1, "url": "https://a.example/v1", "api_key": "k", "model": "  ", "max_retries": null}`,
			want: Settings{ID: "id1", Priority: 1, URL: "https://a.example/v1", APIKey: "k", Enabled: true, Scheme: DefaultScheme, Type: TypeOpenAI},
		},
		{name: "priority required", in: `{"url": "https://a.example/v1", "api_key": "k"}`, wantErr: "priority"},
		{name: "url required", in: `{"priority": 1, "api_key": "k"}`, wantErr: "url"},
		{name: "api_key required", in: `{"priority": 1, "url": "https://a.example/v1"}`, wantErr: "api_key"},
		{name: "empty api_key", in: `{"priority": 1, "url": "https://a.example/v1", "api_key": "  "}`, wantErr: "api_key"},
		{name: "empty url", in: `{"priority": 1, "url": "", "api_key": "k"}`, wantErr: "url"},
		{name: "bad url", in: `{"priority": 1, "url": "ftp://a.example", "api_key": "k"}`, wantErr: "url"},
		{name: "blank scheme", in: `{"priority": 1, "url": "https://a.example/v1", "api_key": "k", "scheme_name": " "}`, wantErr: "scheme_name"},
		{name: "threshold out of range", in: `{"priority": 1, "url": "https://a.example/v1", "api_key": "k", "consecutive_failure_threshold": -1}`, wantErr: "consecutive_failure_threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePatch([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodePatch: %v", err)
			}
			got, err := NewFromPatch("id1", p)
			checkFieldErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			if !settingsEqual(got, tt.want) {
				t.Fatalf("got %s, want %s", dump(got), dump(tt.want))
			}
		})
	}
}

func settingsEqual(a, b Settings) bool { return dump(a) == dump(b) }

func dump(s Settings) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func baseSettings() Settings {
	return Settings{
		ID: "c1", Priority: 1, URL: "https://a.example/v1", APIKey: goodKey,
		Model: ptr("gpt-4o"), ConsecutiveFailureThreshold: ptr(5), DisableDurationSeconds: ptr(20),
		Name: "main", Enabled: true, TimeoutSeconds: ptr(30), MaxRetries: ptr(2), Scheme: "s", Type: TypeOpenAI,
	}
}

func TestApplyPatch(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		edit    func(s *Settings) // applied to baseSettings for the wanted result
		wantErr string
	}{
		{name: "empty patch keeps everything", in: `{}`, edit: func(*Settings) {}},
		{name: "omitted api_key keeps the stored key", in: `{"priority": 7}`, edit: func(s *Settings) { s.Priority = 7 }},
		{name: "masked api_key as GET shows it keeps the key", in: `{"api_key": "sk-…mnop"}`, edit: func(*Settings) {}},
		{name: "any masked form keeps the key", in: `{"api_key": "sk-…zzzz"}`, edit: func(*Settings) {}},
		{name: "ASCII-dots masked form keeps the key", in: `{"api_key": "sk-...mnop"}`, edit: func(*Settings) {}},
		{name: "empty api_key keeps the key", in: `{"api_key": ""}`, edit: func(*Settings) {}},
		{name: "new api_key replaces, trimmed", in: `{"api_key": " sk-new-key-123456 "}`, edit: func(s *Settings) { s.APIKey = "sk-new-key-123456" }},
		{name: "blank api_key is rejected", in: `{"api_key": "   "}`, wantErr: "api_key"},
		{name: "null model clears the override", in: `{"model": null}`, edit: func(s *Settings) { s.Model = nil }},
		{name: "empty model clears the override", in: `{"model": ""}`, edit: func(s *Settings) { s.Model = nil }},
		{name: "model replaced", in: `{"model": "o3"}`, edit: func(s *Settings) { s.Model = ptr("o3") }},
		{name: "null threshold goes back to the default", in: `{"consecutive_failure_threshold": null}`, edit: func(s *Settings) { s.ConsecutiveFailureThreshold = nil }},
		{name: "threshold 0 is kept as 0", in: `{"consecutive_failure_threshold": 0}`, edit: func(s *Settings) { s.ConsecutiveFailureThreshold = ptr(0) }},
		{name: "null timeout and retries", in: `{"timeout_seconds": null, "max_retries": null, "disable_duration_seconds": null}`, edit: func(s *Settings) {
			s.TimeoutSeconds, s.MaxRetries, s.DisableDurationSeconds = nil, nil, nil
		}},
		{name: "null name empties it", in: `{"name": null}`, edit: func(s *Settings) { s.Name = "" }},
		{name: "disable", in: `{"enabled": false}`, edit: func(s *Settings) { s.Enabled = false }},
		{name: "move scheme", in: `{"scheme_name": "other"}`, edit: func(s *Settings) { s.Scheme = "other" }},
		{name: "bad url rejected", in: `{"url": "https://user:pw@a.example/v1"}`, wantErr: "url"},
		{name: "priority out of range rejected", in: `{"priority": 1000001}`, wantErr: "priority"},
		{name: "timeout 0 rejected", in: `{"timeout_seconds": 0}`, wantErr: "timeout_seconds"},
		{name: "empty scheme rejected", in: `{"scheme_name": ""}`, wantErr: "scheme_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePatch([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodePatch: %v", err)
			}
			orig := baseSettings()
			before := dump(orig)
			got, err := ApplyPatch(orig, p)
			if after := dump(orig); after != before {
				t.Fatalf("ApplyPatch changed its input: got %s, want %s", after, before)
			}
			checkFieldErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			want := baseSettings()
			tt.edit(&want)
			if !settingsEqual(got, want) {
				t.Fatalf("got %s, want %s", dump(got), dump(want))
			}
		})
	}
}

func TestApplyPatchDoesNotShareOverride(t *testing.T) {
	orig := baseSettings()
	p, _ := DecodePatch([]byte(`{"model": "o3", "max_retries": 4}`))
	got, err := ApplyPatch(orig, p)
	if err != nil {
		t.Fatal(err)
	}
	if *orig.Model != "gpt-4o" || *orig.MaxRetries != 2 {
		t.Fatalf("input changed: got model %q retries %d, want gpt-4o 2", *orig.Model, *orig.MaxRetries)
	}
	if *got.Model != "o3" || *got.MaxRetries != 4 {
		t.Fatalf("got model %q retries %d, want o3 4", *got.Model, *got.MaxRetries)
	}
}

func TestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name    string
		edit    func(s *Settings)
		wantErr string
	}{
		{name: "valid", edit: func(*Settings) {}},
		{name: "https with port and path", edit: func(s *Settings) { s.URL = "https://api.example.com:8443/openai/v1" }},
		{name: "http to an IP", edit: func(s *Settings) { s.URL = "http://127.0.0.1:8080/v1/" }},
		{name: "IPv6 host", edit: func(s *Settings) { s.URL = "http://[::1]:8080/v1" }},
		{name: "upper-case scheme", edit: func(s *Settings) { s.URL = "HTTPS://api.example.com/v1" }},
		{name: "no url", edit: func(s *Settings) { s.URL = "" }, wantErr: "url"},
		{name: "ftp url", edit: func(s *Settings) { s.URL = "ftp://a.example/v1" }, wantErr: "url"},
		{name: "no scheme", edit: func(s *Settings) { s.URL = "a.example/v1" }, wantErr: "url"},
		{name: "scheme only", edit: func(s *Settings) { s.URL = "https://" }, wantErr: "url"},
		{name: "port only", edit: func(s *Settings) { s.URL = "http://:8080/v1" }, wantErr: "url"},
		{name: "empty host with path", edit: func(s *Settings) { s.URL = "http:///v1" }, wantErr: "url"},
		{name: "opaque", edit: func(s *Settings) { s.URL = "http:a.example" }, wantErr: "url"},
		{name: "credentials", edit: func(s *Settings) { s.URL = "https://user:pw@a.example/v1" }, wantErr: "url"},
		{name: "user only", edit: func(s *Settings) { s.URL = "https://user@a.example/v1" }, wantErr: "url"},
		{name: "query", edit: func(s *Settings) { s.URL = "https://a.example/v1?key=x" }, wantErr: "url"},
		{name: "fragment", edit: func(s *Settings) { s.URL = "https://a.example/v1#x" }, wantErr: "url"},
		{name: "unparsable", edit: func(s *Settings) { s.URL = "https://a.example:port/v1" }, wantErr: "url"},
		{name: "control character", edit: func(s *Settings) { s.URL = "https://a.example/v1\n" }, wantErr: "url"},
		{name: "too long url", edit: func(s *Settings) { s.URL = "https://a.example/" + long(maxURLLen) }, wantErr: "url"},
		{name: "type openai", edit: func(s *Settings) { s.Type = TypeOpenAI; s.Responses = true }},
		{name: "type anthropic", edit: func(s *Settings) { s.Type = TypeAnthropic }},
		{name: "unknown type", edit: func(s *Settings) { s.Type = "gemini" }, wantErr: "type"},
		{name: "anthropic with responses", edit: func(s *Settings) { s.Type = TypeAnthropic; s.Responses = true }, wantErr: "responses"},
		{name: "headers", edit: func(s *Settings) { s.Headers = map[string]string{"api-key": "k", "HTTP-Referer": "https://me.example"} }},
		{name: "header name with space", edit: func(s *Settings) { s.Headers = map[string]string{"bad name": "v"} }, wantErr: "headers"},
		{name: "empty header name", edit: func(s *Settings) { s.Headers = map[string]string{"": "v"} }, wantErr: "headers"},
		{name: "header value with newline", edit: func(s *Settings) { s.Headers = map[string]string{"X-A": "v\nX-B: w"} }, wantErr: "headers"},
		{name: "proxy's own header", edit: func(s *Settings) { s.Headers = map[string]string{"content-length": "1"} }, wantErr: "headers"},
		{name: "too many headers", edit: func(s *Settings) {
			s.Headers = map[string]string{}
			for i := range maxHeaders + 1 {
				s.Headers[fmt.Sprint("X-H", i)] = "v"
			}
		}, wantErr: "headers"},
		{name: "no key", edit: func(s *Settings) { s.APIKey = "" }, wantErr: "api_key"},
		{name: "blank key", edit: func(s *Settings) { s.APIKey = " \t" }, wantErr: "api_key"},
		{name: "key with newline", edit: func(s *Settings) { s.APIKey = "sk-abc\ndef" }, wantErr: "api_key"},
		{name: "key with DEL", edit: func(s *Settings) { s.APIKey = "sk-abc\x7f" }, wantErr: "api_key"},
		{name: "key not UTF-8", edit: func(s *Settings) { s.APIKey = "sk-\xff" }, wantErr: "api_key"},
		{name: "too long key", edit: func(s *Settings) { s.APIKey = long(maxKeyLen + 1) }, wantErr: "api_key"},
		{name: "longest key", edit: func(s *Settings) { s.APIKey = long(maxKeyLen) }},
		{name: "lowest priority", edit: func(s *Settings) { s.Priority = -1_000_000 }},
		{name: "highest priority", edit: func(s *Settings) { s.Priority = 1_000_000 }},
		{name: "priority too low", edit: func(s *Settings) { s.Priority = -1_000_001 }, wantErr: "priority"},
		{name: "priority too high", edit: func(s *Settings) { s.Priority = 1_000_001 }, wantErr: "priority"},
		{name: "too long model", edit: func(s *Settings) { s.Model = ptr(long(maxModelLen + 1)) }, wantErr: "model"},
		{name: "model not UTF-8", edit: func(s *Settings) { s.Model = ptr("\xfe") }, wantErr: "model"},
		{name: "nil model", edit: func(s *Settings) { s.Model = nil }},
		{name: "threshold 0", edit: func(s *Settings) { s.ConsecutiveFailureThreshold = ptr(0) }},
		{name: "threshold max", edit: func(s *Settings) { s.ConsecutiveFailureThreshold = ptr(MaxThreshold) }},
		{name: "threshold negative", edit: func(s *Settings) { s.ConsecutiveFailureThreshold = ptr(-1) }, wantErr: "consecutive_failure_threshold"},
		{name: "threshold too high", edit: func(s *Settings) { s.ConsecutiveFailureThreshold = ptr(MaxThreshold + 1) }, wantErr: "consecutive_failure_threshold"},
		{name: "disable 0", edit: func(s *Settings) { s.DisableDurationSeconds = ptr(0) }},
		{name: "disable negative", edit: func(s *Settings) { s.DisableDurationSeconds = ptr(-1) }, wantErr: "disable_duration_seconds"},
		{name: "disable too long", edit: func(s *Settings) { s.DisableDurationSeconds = ptr(MaxSeconds + 1) }, wantErr: "disable_duration_seconds"},
		{name: "timeout 1", edit: func(s *Settings) { s.TimeoutSeconds = ptr(1) }},
		{name: "timeout 0", edit: func(s *Settings) { s.TimeoutSeconds = ptr(0) }, wantErr: "timeout_seconds"},
		{name: "timeout too long", edit: func(s *Settings) { s.TimeoutSeconds = ptr(MaxSeconds + 1) }, wantErr: "timeout_seconds"},
		{name: "retries 0", edit: func(s *Settings) { s.MaxRetries = ptr(0) }},
		{name: "retries max", edit: func(s *Settings) { s.MaxRetries = ptr(MaxRetriesLimit) }},
		{name: "retries negative", edit: func(s *Settings) { s.MaxRetries = ptr(-1) }, wantErr: "max_retries"},
		{name: "retries too many", edit: func(s *Settings) { s.MaxRetries = ptr(MaxRetriesLimit + 1) }, wantErr: "max_retries"},
		{name: "too long name", edit: func(s *Settings) { s.Name = long(maxNameLen + 1) }, wantErr: "name"},
		{name: "name not UTF-8", edit: func(s *Settings) { s.Name = "\xc3" }, wantErr: "name"},
		{name: "empty scheme", edit: func(s *Settings) { s.Scheme = "" }, wantErr: "scheme_name"},
		{name: "blank scheme", edit: func(s *Settings) { s.Scheme = "  " }, wantErr: "scheme_name"},
		{name: "scheme with tab", edit: func(s *Settings) { s.Scheme = "a\tb" }, wantErr: "scheme_name"},
		{name: "too long scheme", edit: func(s *Settings) { s.Scheme = long(maxSchemeLen + 1) }, wantErr: "scheme_name"},
		{name: "unicode scheme", edit: func(s *Settings) { s.Scheme = "方案一" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSettings()
			tt.edit(&s)
			checkFieldErr(t, s.Validate(), tt.wantErr)
		})
	}
}

// TestValidateURLAcceptsEmptyQueryOrFragment pins a hole in ValidateURL: a
// base URL ending in a bare "?" or "#" has an empty RawQuery / Fragment, so
// it passes, yet the engine builds upstream URLs as base + "/chat/completions"
// and the suffix then lands in the query or fragment.
func TestValidateURLAcceptsEmptyQueryOrFragment(t *testing.T) {
	for _, raw := range []string{"https://a.example/v1?", "https://a.example/v1#", "https://a.example/v1?#"} {
		if err := ValidateURL(raw); err == nil {
			t.Errorf("ValidateURL(%q): got nil, want a url error", raw)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ key, want string }{
		{"", "…"},
		{"short", "…"},
		{"sk-abcdefgh", "…"}, // 11 bytes
		{"abcdefghijkl", "…ijkl"},
		{goodKey, "sk-…mnop"},
		{"sk-proj-" + strings.Repeat("x", 40) + "WXYZ", "sk-…WXYZ"},
		{"sk_live_" + strings.Repeat("x", 20) + "1234", "sk_…1234"},
		{"toolongprefix-abcdefgh", "…efgh"},
		{"-abcdefghijklmn", "…klmn"},
		{strings.Repeat("k", 64), "…kkkk"},
	}
	for _, tt := range tests {
		got := Mask(tt.key)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Mask(%q): got %q, want %q", tt.key, got, tt.want)
		}
		if !IsMasked(got, tt.key) {
			t.Errorf("IsMasked(Mask(%q)): got false, want true", tt.key)
		}
	}
}

// TestMaskRevealsAtMostTheTail checks, for many key shapes, that the mask
// shows no more than a short vendor prefix and the last 4 characters.
func TestMaskRevealsAtMostTheTail(t *testing.T) {
	for n := 0; n <= 80; n++ {
		for _, prefix := range []string{"", "s-", "sk-", "sk_", "abcd-", "abcde-"} {
			key := prefix + strings.Repeat("Q", max(n-len(prefix), 0))
			got := Mask(key)
			if got == "…" {
				continue
			}
			head, tail, ok := strings.Cut(got, "…")
			if !ok {
				t.Fatalf("Mask(%q) = %q: got no ellipsis, want one", key, got)
			}
			if len(tail) > 4 || !strings.HasSuffix(key, tail) {
				t.Fatalf("Mask(%q) = %q: got tail %q, want at most the key's last 4 bytes", key, got, tail)
			}
			if len(head) > 5 || !strings.HasPrefix(key, head) {
				t.Fatalf("Mask(%q) = %q: got head %q, want at most a 5-byte prefix of the key", key, got, head)
			}
			if strings.Contains(got, key) {
				t.Fatalf("Mask(%q) = %q: got the whole key", key, got)
			}
		}
	}
}

// TestMaskGivesAwayMostOfAShortKey pins a mismatch with Mask's doc ("the
// mask never gives away most of a key"): a 12-byte key with a 4-byte
// "prefix" and a separator shows 9 of its 12 bytes.
func TestMaskGivesAwayMostOfAShortKey(t *testing.T) {
	for _, key := range []string{"abcd-efghijk", "abc_defghijk"} {
		got := Mask(key)
		shown := len(strings.Replace(got, "…", "", 1))
		if 2*shown >= len(key) {
			t.Errorf("Mask(%q) = %q: got %d of %d bytes shown, want fewer than half", key, got, shown, len(key))
		}
	}
}

// TestMaskSplitsMultibyteRune pins that Mask cuts the last 4 bytes, not
// characters, so a printable non-ASCII key masks to invalid UTF-8 (which
// encoding/json then turns into U+FFFD).
func TestMaskSplitsMultibyteRune(t *testing.T) {
	key := "sk-abcdefghijklmnopé€"
	if got := Mask(key); !utf8.ValidString(got) {
		t.Fatalf("Mask(%q) = %q: got invalid UTF-8, want valid text", key, got)
	}
}

func TestIsMasked(t *testing.T) {
	tests := []struct {
		in, stored string
		want       bool
	}{
		{Mask(goodKey), goodKey, true},
		{"…", "short", true},
		{"sk-…0000", goodKey, true},
		{"sk-...mnop", goodKey, true},
		{goodKey, goodKey, false},
		{"sk-different-key", goodKey, false},
		{"", goodKey, false},
	}
	for _, tt := range tests {
		if got := IsMasked(tt.in, tt.stored); got != tt.want {
			t.Errorf("IsMasked(%q, %q): got %v, want %v", tt.in, tt.stored, got, tt.want)
		}
	}
}

func TestPublicMasksKey(t *testing.T) {
	s := baseSettings()
	p := s.Public()
	if p.APIKey != "sk-…mnop" {
		t.Fatalf("Public().APIKey: got %q, want %q", p.APIKey, "sk-…mnop")
	}
	if s.APIKey != goodKey {
		t.Fatalf("Public changed its receiver's key: got %q, want %q", s.APIKey, goodKey)
	}
}

func TestPublicMasksHeaderValues(t *testing.T) {
	s := baseSettings()
	s.Headers = map[string]string{"api-key": "azure-0123456789abcdef"}
	p := s.Public()
	if p.Headers["api-key"] != "…cdef" || s.Headers["api-key"] != "azure-0123456789abcdef" {
		t.Fatalf("Public headers: got %v, original %v", p.Headers, s.Headers)
	}
}

func TestApplyPatchKeepsMaskedHeaderValues(t *testing.T) {
	s := baseSettings()
	s.Headers = map[string]string{"api-key": "azure-0123456789abcdef", "X-Old": "old-value-000000"}
	p, err := DecodePatch([]byte(`{"headers":{"api-key":"…cdef","X-New":"fresh"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ApplyPatch(s, p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"api-key": "azure-0123456789abcdef", "X-New": "fresh"}
	if !reflect.DeepEqual(got.Headers, want) {
		t.Fatalf("headers: got %v, want %v (a masked value keeps the stored one; the set is replaced)", got.Headers, want)
	}
	p, _ = DecodePatch([]byte(`{"headers":null,"prefill":false,"type":"anthropic"}`))
	got, err = ApplyPatch(s, p)
	if err != nil || got.Headers != nil || got.Prefill == nil || *got.Prefill || got.Type != TypeAnthropic {
		t.Fatalf("null headers, prefill false, type anthropic: got %+v, %v", got, err)
	}
	for _, body := range []string{`{"headers":{"X-Renamed":"…cdef"}}`, `{"type":"gemini"}`, `{"headers":{"a":1}}`, `{"headers":"x"}`, `{"prefill":"yes"}`, `{"responses":null}`} {
		p, err := DecodePatch([]byte(body))
		if err == nil {
			_, err = ApplyPatch(s, p)
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a FieldError", body, err)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := baseSettings()
	c := s.Clone()
	*c.Model, *c.ConsecutiveFailureThreshold, *c.DisableDurationSeconds, *c.TimeoutSeconds, *c.MaxRetries = "x", 1, 1, 1, 1
	if dump(s) != dump(baseSettings()) {
		t.Fatalf("changing the clone changed the original: got %s, want %s", dump(s), dump(baseSettings()))
	}
	h := Settings{Prefill: ptr(true), Headers: map[string]string{"X-A": "1"}}
	hc := h.Clone()
	*hc.Prefill, hc.Headers["X-A"] = false, "changed"
	if !*h.Prefill || h.Headers["X-A"] != "1" {
		t.Fatalf("changing the clone's prefill or headers changed the original: %+v", h)
	}
	if n := Settings.Clone(Settings{}); n.Model != nil || n.MaxRetries != nil {
		t.Fatalf("Clone of nil pointers: got %+v, want nils", n)
	}
}

func TestSettingsUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantEnabled bool
		wantErr     bool
	}{
		{name: "missing enabled means true", in: `{"id": "a", "priority": 1}`, wantEnabled: true},
		{name: "explicit false", in: `{"id": "a", "enabled": false}`, wantEnabled: false},
		{name: "explicit true", in: `{"id": "a", "enabled": true}`, wantEnabled: true},
		{name: "null enabled keeps the default", in: `{"enabled": null}`, wantEnabled: true},
		{name: "original item with extra fields", in: `{"id": "a", "priority": 1, "url": "https://x/v1", "api_key": "k",
			"model": null, "consecutive_failure_threshold": 3, "disable_duration_seconds": 10,
			"request_overrides": {}, "user_agent_mode": "auto"}`, wantEnabled: true},
		{name: "bad JSON", in: `{"enabled": `, wantErr: true},
		{name: "wrong type", in: `{"priority": "x"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Settings
			err := json.Unmarshal([]byte(tt.in), &s)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && s.Enabled != tt.wantEnabled {
				t.Fatalf("got Enabled %v, want %v", s.Enabled, tt.wantEnabled)
			}
		})
	}
}

func TestSettingsJSONRoundTrip(t *testing.T) {
	in := baseSettings()
	in.Enabled = false
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"id"`, `"priority"`, `"url"`, `"api_key"`, `"model"`, `"consecutive_failure_threshold"`,
		`"disable_duration_seconds"`, `"name"`, `"enabled"`, `"timeout_seconds"`, `"max_retries"`, `"scheme_name"`} {
		if !strings.Contains(string(b), name+":") {
			t.Errorf("marshalled %s: got no %s, want it", b, name)
		}
	}
	var out []Settings
	if err := json.Unmarshal([]byte("["+string(b)+`,{"id":"b"}]`), &out); err != nil {
		t.Fatal(err)
	}
	if !settingsEqual(out[0], in) {
		t.Fatalf("round trip: got %s, want %s", dump(out[0]), dump(in))
	}
	if !out[1].Enabled {
		t.Fatalf("second element without enabled: got false, want true")
	}
}

func TestResolve(t *testing.T) {
	d := Defaults{Threshold: 3, Cooldown: 10 * time.Second, MaxCooldown: 30 * time.Second, FirstByte: 90 * time.Second, MaxRetries: 1}
	tests := []struct {
		name string
		s    Settings
		want Resolved
	}{
		{
			name: "nil fields take the defaults",
			s:    Settings{ID: "a", URL: "https://x/v1", APIKey: "k", Enabled: true},
			want: Resolved{ID: "a", URL: "https://x/v1", APIKey: "k", FirstByte: 90 * time.Second, MaxRetries: 1, Enabled: true,
				Breaker: BreakerConfig{Threshold: 3, Cooldown: 10 * time.Second, MaxCooldown: 30 * time.Second}, Type: TypeOpenAI},
		},
		{
			name: "set fields win, zero included",
			s: Settings{ID: "a", URL: "https://x/v1//", APIKey: "k", Model: ptr("o3"), ConsecutiveFailureThreshold: ptr(0),
				DisableDurationSeconds: ptr(0), TimeoutSeconds: ptr(5), MaxRetries: ptr(0)},
			want: Resolved{ID: "a", URL: "https://x/v1", APIKey: "k", Model: "o3", FirstByte: 5 * time.Second, MaxRetries: 0,
				Breaker: BreakerConfig{Threshold: 0, Cooldown: 0, MaxCooldown: 30 * time.Second}, Type: TypeOpenAI},
		},
		{
			name: "seconds become durations",
			s:    Settings{ID: "a", URL: "http://x", ConsecutiveFailureThreshold: ptr(7), DisableDurationSeconds: ptr(120), TimeoutSeconds: ptr(600), MaxRetries: ptr(4), Enabled: true},
			want: Resolved{ID: "a", URL: "http://x", FirstByte: 10 * time.Minute, MaxRetries: 4, Enabled: true,
				Breaker: BreakerConfig{Threshold: 7, Cooldown: 2 * time.Minute, MaxCooldown: 30 * time.Second}, Type: TypeOpenAI},
		},
		{
			name: "anthropic prefills by default",
			s:    Settings{ID: "a", URL: "http://x", Type: TypeAnthropic, Headers: map[string]string{"X-A": "1"}},
			want: Resolved{ID: "a", URL: "http://x", FirstByte: 90 * time.Second, MaxRetries: 1, Type: TypeAnthropic, Prefill: true,
				Headers: map[string]string{"X-A": "1"}, Breaker: BreakerConfig{Threshold: 3, Cooldown: 10 * time.Second, MaxCooldown: 30 * time.Second}},
		},
		{
			name: "prefill set wins",
			s:    Settings{ID: "a", URL: "http://x", Type: TypeAnthropic, Prefill: ptr(false)},
			want: Resolved{ID: "a", URL: "http://x", FirstByte: 90 * time.Second, MaxRetries: 1, Type: TypeAnthropic,
				Breaker: BreakerConfig{Threshold: 3, Cooldown: 10 * time.Second, MaxCooldown: 30 * time.Second}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Resolve(d); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
