package engine

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envOf is a lookup backed by a map, as LoadConfig takes in tests.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(envOf(nil))
	if err != nil {
		t.Fatalf("LoadConfig(empty): %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.Addr, ":8080"},
		{"DataDir", c.DataDir, "./data"},
		{"AdminKey", c.AdminKey, ""},
		{"DefaultScheme", c.DefaultScheme, ""},
		{"ConnectTimeout", c.ConnectTimeout, 10 * time.Second},
		{"FirstByteTimeout", c.FirstByteTimeout, 90 * time.Second},
		{"IdleTimeout", c.IdleTimeout, 90 * time.Second},
		{"RequestTimeout", c.RequestTimeout, time.Duration(0)},
		{"ShutdownTimeout", c.ShutdownTimeout, 30 * time.Second},
		{"BreakerCooldown", c.BreakerCooldown, 10 * time.Second},
		{"BreakerMaxCooldown", c.BreakerMaxCooldown, 30 * time.Second},
		{"RetryAfterMax", c.RetryAfterMax, 10 * time.Second},
		{"BackoffBase", c.BackoffBase, 500 * time.Millisecond},
		{"BodyLimit", c.BodyLimit, int64(32 << 20)},
		{"LogFormat", c.LogFormat, "text"},
		{"LogLines", c.LogLines, 500},
		{"MetricsPublic", c.MetricsPublic, false},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if c.BreakerThreshold == nil || *c.BreakerThreshold != 3 {
		t.Errorf("BreakerThreshold = %v, want 3", c.BreakerThreshold)
	}
	if c.MaxRetries == nil || *c.MaxRetries != 1 {
		t.Errorf("MaxRetries = %v, want 1", c.MaxRetries)
	}
}

func TestLoadConfigAddr(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"port", map[string]string{"PORT": "9000"}, ":9000"},
		{"port with spaces", map[string]string{"PORT": " 9000 "}, ":9000"},
		{"host and port", map[string]string{"HOST": "127.0.0.1", "PORT": "9000"}, "127.0.0.1:9000"},
		{"host only", map[string]string{"HOST": "0.0.0.0"}, "0.0.0.0:8080"},
		{"listen", map[string]string{"LISTEN": "127.0.0.1:7000"}, "127.0.0.1:7000"},
		{"listen wins", map[string]string{"LISTEN": "[::1]:7000", "HOST": "h", "PORT": "9000"}, "[::1]:7000"},
		{"empty values", map[string]string{"PORT": "", "HOST": "", "LISTEN": ""}, ":8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tt.want {
				t.Errorf("Addr = %q, want %q", c.Addr, tt.want)
			}
		})
	}
}

// HOST and PORT are glued with ":", so an IPv6 host gives "::1:9000",
// which net.Listen refuses ("too many colons").
func TestLoadConfigIPv6HostJoinsPort(t *testing.T) {
	t.Skip(`BUG: LoadConfig builds Addr as HOST+":"+PORT; HOST=::1 gives "::1:9000" instead of "[::1]:9000" (use net.JoinHostPort)`)
	for host, want := range map[string]string{"::1": "[::1]:9000", "::": "[::]:9000"} {
		c, err := LoadConfig(envOf(map[string]string{"HOST": host, "PORT": "9000"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr != want {
			t.Errorf("HOST=%s PORT=9000: Addr = %q, want %q", host, c.Addr, want)
		}
	}
}

func TestLoadConfigValues(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(c Config) (got, want any)
	}{
		{"seconds", map[string]string{"FIRST_BYTE_TIMEOUT": "90"}, func(c Config) (any, any) { return c.FirstByteTimeout, 90 * time.Second }},
		{"fractional seconds", map[string]string{"CONNECT_TIMEOUT": "1.5"}, func(c Config) (any, any) { return c.ConnectTimeout, 1500 * time.Millisecond }},
		{"Go duration", map[string]string{"STREAM_IDLE_TIMEOUT": "1m30s"}, func(c Config) (any, any) { return c.IdleTimeout, 90 * time.Second }},
		{"milliseconds", map[string]string{"BREAKER_COOLDOWN": "500ms"}, func(c Config) (any, any) { return c.BreakerCooldown, 500 * time.Millisecond }},
		{"request timeout", map[string]string{"REQUEST_TIMEOUT": "600"}, func(c Config) (any, any) { return c.RequestTimeout, 10 * time.Minute }},
		{"shutdown", map[string]string{"SHUTDOWN_TIMEOUT": "5s"}, func(c Config) (any, any) { return c.ShutdownTimeout, 5 * time.Second }},
		{"max cooldown", map[string]string{"BREAKER_MAX_COOLDOWN": "2m"}, func(c Config) (any, any) { return c.BreakerMaxCooldown, 2 * time.Minute }},
		{"retry-after max", map[string]string{"RETRY_AFTER_MAX": "3"}, func(c Config) (any, any) { return c.RetryAfterMax, 3 * time.Second }},
		{"zero duration is the default", map[string]string{"CONNECT_TIMEOUT": "0"}, func(c Config) (any, any) { return c.ConnectTimeout, 10 * time.Second }},
		{"body limit MiB", map[string]string{"BODY_LIMIT": "32MiB"}, func(c Config) (any, any) { return c.BodyLimit, int64(32 << 20) }},
		{"body limit bytes", map[string]string{"BODY_LIMIT": "1048576"}, func(c Config) (any, any) { return c.BodyLimit, int64(1 << 20) }},
		{"body limit KiB", map[string]string{"BODY_LIMIT": "512KiB"}, func(c Config) (any, any) { return c.BodyLimit, int64(512 << 10) }},
		{"body limit MB", map[string]string{"BODY_LIMIT": "8MB"}, func(c Config) (any, any) { return c.BodyLimit, int64(8_000_000) }},
		{"body limit lower case, space", map[string]string{"BODY_LIMIT": "2 mib"}, func(c Config) (any, any) { return c.BodyLimit, int64(2 << 20) }},
		{"body limit M", map[string]string{"BODY_LIMIT": "64M"}, func(c Config) (any, any) { return c.BodyLimit, int64(64 << 20) }},
		{"body limit G", map[string]string{"BODY_LIMIT": "1GiB"}, func(c Config) (any, any) { return c.BodyLimit, int64(1 << 30) }},
		{"breaker off", map[string]string{"BREAKER_THRESHOLD": "0"}, func(c Config) (any, any) { return *c.BreakerThreshold, 0 }},
		{"breaker threshold", map[string]string{"BREAKER_THRESHOLD": "5"}, func(c Config) (any, any) { return *c.BreakerThreshold, 5 }},
		{"no retries", map[string]string{"MAX_RETRIES": "0"}, func(c Config) (any, any) { return *c.MaxRetries, 0 }},
		{"log format", map[string]string{"LOG_FORMAT": "JSON"}, func(c Config) (any, any) { return c.LogFormat, "json" }},
		{"log lines", map[string]string{"LOG_LINES": "100"}, func(c Config) (any, any) { return c.LogLines, 100 }},
		{"metrics public", map[string]string{"METRICS_PUBLIC": "true"}, func(c Config) (any, any) { return c.MetricsPublic, true }},
		{"admin key", map[string]string{"ADMIN_KEY": " sk-admin "}, func(c Config) (any, any) { return c.AdminKey, "sk-admin" }},
		{"data dir", map[string]string{"DATA_DIR": "/var/lib/catfish"}, func(c Config) (any, any) { return c.DataDir, "/var/lib/catfish" }},
		{"default scheme", map[string]string{"DEFAULT_SCHEME": "cheap"}, func(c Config) (any, any) { return c.DefaultScheme, "cheap" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(envOf(tt.env))
			if err != nil {
				t.Fatalf("LoadConfig(%v): %v", tt.env, err)
			}
			if got, want := tt.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	bad := map[string]string{
		"PORT":                 "http",
		"CONNECT_TIMEOUT":      "ten",
		"FIRST_BYTE_TIMEOUT":   "-1",
		"STREAM_IDLE_TIMEOUT":  "-5s",
		"REQUEST_TIMEOUT":      "1e9",
		"SHUTDOWN_TIMEOUT":     "90x",
		"BREAKER_COOLDOWN":     "10 s",
		"BREAKER_MAX_COOLDOWN": "1h-",
		"RETRY_AFTER_MAX":      "soon",
		"BREAKER_THRESHOLD":    "-1",
		"MAX_RETRIES":          "11",
		"BODY_LIMIT":           "lots",
		"LOG_FORMAT":           "xml",
		"LOG_LINES":            "0",
		"METRICS_PUBLIC":       "maybe",
	}
	// Each alone is an error that names it.
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			c, err := LoadConfig(envOf(map[string]string{name: v}))
			if err == nil {
				t.Fatalf("%s=%q accepted: %+v", name, v, c)
			}
			if !strings.Contains(err.Error(), name+"=") {
				t.Errorf("error %q does not name %s", err, name)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Errorf("a failed LoadConfig returned a config: %+v", c)
			}
		})
	}
	// All together: one error naming every one of them.
	_, err := LoadConfig(envOf(bad))
	if err == nil {
		t.Fatal("LoadConfig accepted every malformed value")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("joined error does not name %s:\n%v", name, err)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != len(bad) {
		t.Errorf("joined %d errors, want %d", n, len(bad))
	}
}

func TestLoadConfigOutOfRange(t *testing.T) {
	for _, env := range []map[string]string{
		{"PORT": "0"},
		{"PORT": "65536"},
		{"BODY_LIMIT": "0"},
		{"BODY_LIMIT": "-1MiB"},
		{"BODY_LIMIT": "2TiB"},
		{"BODY_LIMIT": "2000GiB"},
		{"BREAKER_THRESHOLD": "1001"},
		{"MAX_RETRIES": "-1"},
		{"LOG_LINES": "100001"},
		{"CONNECT_TIMEOUT": "10000001"},
	} {
		if _, err := LoadConfig(envOf(env)); err == nil {
			t.Errorf("LoadConfig(%v) accepted an out-of-range value", env)
		}
	}
}

func writeDotEnv(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadDotEnv(t *testing.T) {
	path := writeDotEnv(t, strings.Join([]string{
		"# a comment",
		"",
		"   ",
		"  # an indented comment",
		"export A=1",
		"B = two words ",
		`C="quoted # not a comment"`,
		"D='single'",
		"E=value # a comment",
		"F=value#not-a-comment",
		"G=",
		`H="unbalanced`,
		"I=a=b",
		`J=""`,
		"K=1\r",
		"export  L=2",
		"B=later wins",
	}, "\n"))
	got, err := ReadDotEnv(path)
	if err != nil {
		t.Fatalf("ReadDotEnv: %v", err)
	}
	want := map[string]string{
		"A": "1",
		"B": "later wins",
		"C": "quoted # not a comment",
		"D": "single",
		"E": "value",
		"F": "value#not-a-comment",
		"G": "",
		"H": `"unbalanced`,
		"I": "a=b",
		"J": "",
		"K": "1",
		"L": "2",
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s = %q", k, v)
			}
		}
	}
}

// A quoted value followed by an inline comment keeps its quotes: the
// quote check looks at the last byte of the line (the comment's), and the
// comment branch then strips only the comment.
func TestReadDotEnvQuotedValueWithComment(t *testing.T) {
	t.Skip(`BUG: ReadDotEnv reads KEY="v" # comment as "\"v\"" (quotes kept); strip the " #" comment outside quotes first, then unquote`)
	got, err := ReadDotEnv(writeDotEnv(t, "ADMIN_KEY=\"sk-secret\" # the admin key\nPORT='9000' # port\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got["ADMIN_KEY"] != "sk-secret" || got["PORT"] != "9000" {
		t.Errorf("got ADMIN_KEY=%q PORT=%q, want sk-secret and 9000", got["ADMIN_KEY"], got["PORT"])
	}
}

func TestReadDotEnvMissingFile(t *testing.T) {
	got, err := ReadDotEnv(filepath.Join(t.TempDir(), "no-such.env"))
	if got != nil || err != nil {
		t.Errorf("ReadDotEnv(missing) = %v, %v; want nil, nil", got, err)
	}
}

func TestReadDotEnvMalformed(t *testing.T) {
	for _, tt := range []struct {
		content string
		line    int
	}{
		{"A=1\n# ok\nJUSTAWORD\n", 3},
		{"=value\n", 1},
		{"A=1\n\n  = x\n", 3},
		{"export\n", 1},
	} {
		path := writeDotEnv(t, tt.content)
		got, err := ReadDotEnv(path)
		if err == nil {
			t.Errorf("ReadDotEnv(%q) = %v, nil; want an error", tt.content, got)
			continue
		}
		if want := path + ":" + strconv.Itoa(tt.line) + ":"; !strings.Contains(err.Error(), want) {
			t.Errorf("ReadDotEnv(%q): error %q does not say %q", tt.content, err, want)
		}
		if got != nil {
			t.Errorf("ReadDotEnv(%q) returned values with its error: %v", tt.content, got)
		}
	}
}

func TestReadDotEnvUnreadable(t *testing.T) {
	// A directory is there but is not a file: an error, not "missing".
	_, err := ReadDotEnv(t.TempDir())
	if err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadDotEnv(a directory) = %v, want a read error", err)
	}
}

func TestLookupPrefersEnvironment(t *testing.T) {
	const k = "CATFISH_TEST_LOOKUP_VAR"
	t.Setenv(k, "from-env")
	look := Lookup(map[string]string{k: "from-file", k + "_2": "only-file"})
	if v, ok := look(k); v != "from-env" || !ok {
		t.Errorf("lookup(%s) = %q, %v; want from-env", k, v, ok)
	}
	if v, ok := look(k + "_2"); v != "only-file" || !ok {
		t.Errorf("lookup(%s_2) = %q, %v; want only-file", k, v, ok)
	}
	if _, ok := look(k + "_NONE"); ok {
		t.Errorf("lookup of an unset variable reports ok")
	}
	// An empty value in the environment still counts as set.
	t.Setenv(k, "")
	if v, ok := look(k); v != "" || !ok {
		t.Errorf("lookup(%s) with empty env = %q, %v; want \"\", true", k, v, ok)
	}
}

// parseDuration refuses n < 0 and n > 1e7, but NaN compares false with
// both, so "NaN" passes and becomes time.Duration(NaN), which is
// math.MinInt64 on amd64: BREAKER_COOLDOWN=NaN is a negative cooldown.
func TestLoadConfigNaNDurationRefused(t *testing.T) {
	t.Skip(`BUG: parseDuration accepts "NaN" (both range checks are false for NaN) and yields a negative Duration`)
	for _, v := range []string{"NaN", "nan"} {
		c, err := LoadConfig(envOf(map[string]string{"BREAKER_COOLDOWN": v}))
		if err == nil {
			t.Errorf("BREAKER_COOLDOWN=%s accepted as %v", v, c.BreakerCooldown)
		}
	}
}
