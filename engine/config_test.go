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
		{"RetryAfterOpenMax", c.RetryAfterOpenMax, time.Hour},
		{"BackoffBase", c.BackoffBase, 500 * time.Millisecond},
		{"Continuation", *c.Continuation, true},
		{"ContinueTimeout", c.ContinueTimeout, 60 * time.Second},
		{"MaxContinuations", *c.MaxContinuations, 1},
		{"ClientKeysOnly", c.ClientKeysOnly, false},
		{"AdminKeySource", c.AdminKeySource, ""},
		{"Warnings", c.Warnings, []string(nil)},
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

// HOST and PORT were glued with ":", so an IPv6 host gave "::1:9000",
// which net.Listen refuses ("too many colons").
func TestLoadConfigIPv6HostJoinsPort(t *testing.T) {
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
		{"admin key source", map[string]string{"ADMIN_KEY": "sk-admin"}, func(c Config) (any, any) { return c.AdminKeySource, "environment" }},
		{"retry-after open max", map[string]string{"RETRY_AFTER_OPEN_MAX": "15m"}, func(c Config) (any, any) { return c.RetryAfterOpenMax, 15 * time.Minute }},
		{"retry-after open max seconds", map[string]string{"RETRY_AFTER_OPEN_MAX": "600"}, func(c Config) (any, any) { return c.RetryAfterOpenMax, 10 * time.Minute }},
		{"continuation off", map[string]string{"CONTINUATION": "off"}, func(c Config) (any, any) { return *c.Continuation, false }},
		{"continuation OFF", map[string]string{"CONTINUATION": "OFF"}, func(c Config) (any, any) { return *c.Continuation, false }},
		{"continuation false", map[string]string{"CONTINUATION": "false"}, func(c Config) (any, any) { return *c.Continuation, false }},
		{"continuation on", map[string]string{"CONTINUATION": "on"}, func(c Config) (any, any) { return *c.Continuation, true }},
		{"continue timeout", map[string]string{"CONTINUE_TIMEOUT": "2m"}, func(c Config) (any, any) { return c.ContinueTimeout, 2 * time.Minute }},
		{"no continuations", map[string]string{"MAX_CONTINUATIONS": "0"}, func(c Config) (any, any) { return *c.MaxContinuations, 0 }},
		{"ten continuations", map[string]string{"MAX_CONTINUATIONS": "10"}, func(c Config) (any, any) { return *c.MaxContinuations, 10 }},
		{"client keys only", map[string]string{"CLIENT_KEYS_ONLY": "true"}, func(c Config) (any, any) { return c.ClientKeysOnly, true }},
		{"client keys only off", map[string]string{"CLIENT_KEYS_ONLY": "0"}, func(c Config) (any, any) { return c.ClientKeysOnly, false }},
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
		"RETRY_AFTER_OPEN_MAX": "forever",
		"CONTINUATION":         "sometimes",
		"CONTINUE_TIMEOUT":     "-1",
		"MAX_CONTINUATIONS":    "many",
		"CLIENT_KEYS_ONLY":     "yes please",
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
		{"MAX_CONTINUATIONS": "11"},
		{"MAX_CONTINUATIONS": "-1"},
		{"RETRY_AFTER_OPEN_MAX": "-1h"},
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
		"I=a=b",
		`J=""`,
		"K=1\r",
		"export  L=2",
		"B=later wins",
		`M="quoted" # with a comment`,
		"N=value\t# after a tab",
		`P=it's`,
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
		"I": "a=b",
		"J": "",
		"K": "1",
		"L": "2",
		"M": "quoted",
		"N": "value",
		"P": "it's",
	}
	if got.Path != path {
		t.Errorf("Path = %q, want %q", got.Path, path)
	}
	if !reflect.DeepEqual(got.Values, want) {
		for k, v := range want {
			if got.Values[k] != v {
				t.Errorf("%s = %q, want %q", k, got.Values[k], v)
			}
		}
		for k, v := range got.Values {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s = %q", k, v)
			}
		}
	}
}

// A quoted value followed by an inline comment kept its quotes: the
// quote check looked at the last byte of the line (the comment's), and the
// comment branch then stripped only the comment.
func TestReadDotEnvQuotedValueWithComment(t *testing.T) {
	got, err := ReadDotEnv(writeDotEnv(t, "ADMIN_KEY=\"sk-secret\" # the admin key\nPORT='9000' # port\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Values["ADMIN_KEY"] != "sk-secret" || got.Values["PORT"] != "9000" {
		t.Errorf("got ADMIN_KEY=%q PORT=%q, want sk-secret and 9000", got.Values["ADMIN_KEY"], got.Values["PORT"])
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

// An unterminated quote became part of the value: ADMIN_KEY="abc was the
// key `"abc`. Now it is an error naming file:line and the variable, and
// never the value (it may be a secret).
func TestReadDotEnvUnterminatedQuoteIsAnError(t *testing.T) {
	for _, tt := range []struct {
		content string
		line    int
		name    string
	}{
		{"PORT=9000\nADMIN_KEY=\"sk-secret-value\n", 2, "ADMIN_KEY"},
		{"ADMIN_KEY='sk-secret-value\n", 1, "ADMIN_KEY"},
		{"A=1\n\nADMIN_KEY=\"sk-secret-value' # mixed quotes\n", 3, "ADMIN_KEY"},
		{"ADMIN_KEY=\"\n", 1, "ADMIN_KEY"},
		{"ADMIN_KEY=\"sk-secret-value\" trailing\n", 1, "ADMIN_KEY"},
	} {
		path := writeDotEnv(t, tt.content)
		got, err := ReadDotEnv(path)
		if err == nil {
			t.Errorf("ReadDotEnv(%q) = %+v, nil; want an error", tt.content, got)
			continue
		}
		if want := path + ":" + strconv.Itoa(tt.line) + ": " + tt.name; !strings.Contains(err.Error(), want) {
			t.Errorf("ReadDotEnv(%q): error %q does not say %q", tt.content, err, want)
		}
		if strings.Contains(err.Error(), "sk-secret") {
			t.Errorf("ReadDotEnv(%q): error %q shows the value", tt.content, err)
		}
		if got != nil {
			t.Errorf("ReadDotEnv(%q) returned values with its error: %v", tt.content, got)
		}
	}
	// Load, as catfish starts, fails with the same error.
	path := writeDotEnv(t, "ADMIN_KEY=\"abc\n")
	if _, err := Load(getenvOf(nil), path); err == nil || !strings.Contains(err.Error(), path+":1: ADMIN_KEY") {
		t.Errorf("Load with an unterminated quote: got %v, want an error naming %s:1", err, path)
	}
}

func TestReadDotEnvUnreadable(t *testing.T) {
	// A directory is there but is not a file: an error, not "missing".
	_, err := ReadDotEnv(t.TempDir())
	if err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadDotEnv(a directory) = %v, want a read error", err)
	}
}

// getenvOf is a process environment backed by a map, as Load takes in tests.
func getenvOf(m map[string]string) func(string) (string, bool) { return envOf(m) }

func TestLoadPrefersEnvironment(t *testing.T) {
	path := writeDotEnv(t, "PORT=9001\nDATA_DIR=/from/file\nDEFAULT_SCHEME=file\n")
	c, err := Load(getenvOf(map[string]string{"PORT": "9002", "DEFAULT_SCHEME": "env"}), path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9002" || c.DataDir != "/from/file" || c.DefaultScheme != "env" {
		t.Errorf("got Addr %q DataDir %q DefaultScheme %q, want :9002, /from/file, env", c.Addr, c.DataDir, c.DefaultScheme)
	}
	// No .env file: the environment and the defaults.
	c, err = Load(getenvOf(map[string]string{"PORT": "9002"}), filepath.Join(t.TempDir(), ".env"))
	if err != nil || c.Addr != ":9002" || c.DataDir != "./data" || c.Warnings != nil {
		t.Errorf("no .env: got %q %q %v, %v; want :9002 ./data, no warnings", c.Addr, c.DataDir, c.Warnings, err)
	}
}

// An empty ADMIN_KEY= in the real environment silently beat .env: the
// key in .env was never read and a new one was generated. An empty (or
// blank) variable is unset, for every setting: .env, then the default.
func TestLoadEmptyEnvironmentVariableIsUnset(t *testing.T) {
	path := writeDotEnv(t, "ADMIN_KEY=sk-from-dotenv-0123456789\nPORT=9001\nLOG_FORMAT=json\n")
	env := map[string]string{"ADMIN_KEY": "", "PORT": "  ", "LOG_FORMAT": "", "DATA_DIR": "", "BREAKER_THRESHOLD": ""}
	c, err := Load(getenvOf(env), path)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminKey != "sk-from-dotenv-0123456789" || c.AdminKeySource != ".env" {
		t.Errorf("ADMIN_KEY: got %q from %q, want the .env key from .env", c.AdminKey, c.AdminKeySource)
	}
	if c.Addr != ":9001" || c.LogFormat != "json" {
		t.Errorf("got Addr %q LogFormat %q, want :9001 and json from .env", c.Addr, c.LogFormat)
	}
	if c.DataDir != "./data" || *c.BreakerThreshold != 3 {
		t.Errorf("got DataDir %q BreakerThreshold %d, want the defaults", c.DataDir, *c.BreakerThreshold)
	}
}

func TestLoadAdminKeySource(t *testing.T) {
	withKey := writeDotEnv(t, "ADMIN_KEY=sk-from-dotenv-0123456789\n")
	emptyKey := writeDotEnv(t, "ADMIN_KEY=\n")
	none := filepath.Join(t.TempDir(), "missing.env")
	for _, tt := range []struct {
		name      string
		env       map[string]string
		path      string
		key, from string
	}{
		{"environment", map[string]string{"ADMIN_KEY": "sk-env-0123456789abc"}, none, "sk-env-0123456789abc", "environment"},
		{"environment over .env", map[string]string{"ADMIN_KEY": "sk-env-0123456789abc"}, withKey, "sk-env-0123456789abc", "environment"},
		{".env", nil, withKey, "sk-from-dotenv-0123456789", ".env"},
		{"empty environment, .env", map[string]string{"ADMIN_KEY": ""}, withKey, "sk-from-dotenv-0123456789", ".env"},
		{"nowhere: New generates or reads the file", nil, emptyKey, "", ""},
		{"no .env at all", map[string]string{"ADMIN_KEY": " "}, none, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(getenvOf(tt.env), tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if c.AdminKey != tt.key || c.AdminKeySource != tt.from {
				t.Errorf("got key %q from %q, want %q from %q", c.AdminKey, c.AdminKeySource, tt.key, tt.from)
			}
		})
	}
}

// Unknown names in .env were silently ignored, so FIRST_BYTE_TIMOUT=5
// left the timeout at 90 s without a word. They are warnings naming
// file:line and, for a likely typo, the setting meant; they do not stop
// start-up (people keep other variables in .env).
func TestLoadWarnsAboutUnknownDotEnvNames(t *testing.T) {
	path := writeDotEnv(t, strings.Join([]string{
		"ADMIN_KEY=sk-from-dotenv-0123456789",
		"FIRST_BYTE_TIMOUT=5",
		"# comment",
		"OPENAI_API_KEY=sk-other-app",
		"admin_key=lower",
		"BREAKER_TRESHOLD=2",
		"PROT=9000",
		"HTTPS_PROXY=http://127.0.0.1:7890",
		"PORT=9001",
		"no_proxy=localhost",
	}, "\n"))
	c, err := Load(getenvOf(nil), path)
	if err != nil {
		t.Fatalf("Load: %v (unknown names must not stop start-up)", err)
	}
	want := []string{
		path + ":2: FIRST_BYTE_TIMOUT is not a catfish setting and is ignored; did you mean FIRST_BYTE_TIMEOUT?",
		path + ":4: OPENAI_API_KEY is not a catfish setting and is ignored (catfish --help lists the settings)",
		path + ":5: admin_key is not a catfish setting and is ignored; did you mean ADMIN_KEY?",
		path + ":6: BREAKER_TRESHOLD is not a catfish setting and is ignored; did you mean BREAKER_THRESHOLD?",
		path + ":7: PROT is not a catfish setting and is ignored; did you mean PORT?",
		path + ":8: HTTPS_PROXY in .env is not used: the upstream proxy is read from the real environment only (export it; Docker Compose passes .env in)",
		path + ":10: no_proxy in .env is not used: the upstream proxy is read from the real environment only (export it; Docker Compose passes .env in)",
	}
	if !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("Warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(want, "\n"))
	}
	if c.FirstByteTimeout != 90*time.Second || c.Addr != ":9001" {
		t.Errorf("got FirstByteTimeout %v Addr %q, want the default and :9001", c.FirstByteTimeout, c.Addr)
	}
	// A proxy set in the real environment too: .env's is moot, no warning.
	c, err = Load(getenvOf(map[string]string{"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "x"}), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "PROXY") || strings.Contains(w, "proxy:") {
			t.Errorf("warning about a proxy the environment sets: %s", w)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"PORT", "PORT", 0},
		{"PROT", "PORT", 1},
		{"FIRST_BYTE_TIMOUT", "FIRST_BYTE_TIMEOUT", 1},
		{"", "TZ", 2},
		{"TZ", "", 2},
		{"HOST", "PORT", 2},
		{"KITTEN", "SITTING", 3},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// parseDuration refuses n < 0 and n > 1e7, but NaN compares false with
// both, so "NaN" passed and became time.Duration(NaN), which is
// math.MinInt64 on amd64: BREAKER_COOLDOWN=NaN was a negative cooldown.
func TestLoadConfigNaNDurationRefused(t *testing.T) {
	for _, v := range []string{"NaN", "nan"} {
		c, err := LoadConfig(envOf(map[string]string{"BREAKER_COOLDOWN": v}))
		if err == nil {
			t.Errorf("BREAKER_COOLDOWN=%s accepted as %v", v, c.BreakerCooldown)
		}
	}
}

// TestSettingsTableIsWhatLoadConfigReads holds the settings table (what
// --help prints) to the names LoadConfig asks for, so a new variable
// cannot be read without being documented, nor documented without being
// read.
func TestSettingsTableIsWhatLoadConfigReads(t *testing.T) {
	asked := map[string]bool{}
	if _, err := LoadConfig(func(k string) (string, bool) { asked[k] = true; return "", false }); err != nil {
		t.Fatal(err)
	}
	table := map[string]bool{}
	for _, s := range settings() {
		if table[s.name] {
			t.Errorf("%s is in the table twice", s.name)
		}
		table[s.name] = true
		if !s.envOnly && !asked[s.name] {
			t.Errorf("%s is in the table but LoadConfig never reads it", s.name)
		}
		if s.envOnly && asked[s.name] {
			t.Errorf("%s is marked envOnly but LoadConfig reads it", s.name)
		}
		if s.def == "" || s.help == "" {
			t.Errorf("%s has no default or no meaning", s.name)
		}
	}
	for k := range asked {
		if !table[k] {
			t.Errorf("LoadConfig reads %s, which the settings table does not list", k)
		}
	}
}

// exampleEnv reads ../example.env into its settings, in order, each with
// its comment (the "# " lines right above it, joined by spaces).
func exampleEnv(t *testing.T) (names []string, comments map[string]string) {
	t.Helper()
	b, err := os.ReadFile("../example.env")
	if err != nil {
		t.Fatal(err)
	}
	comments = map[string]string{}
	var comment []string
	for _, line := range strings.Split(string(b), "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "#"), "="); ok && name != "" && strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == "" {
			names = append(names, name)
			comments[name] = strings.Join(comment, " ")
			comment = nil
			continue
		}
		if c, ok := strings.CutPrefix(line, "# "); ok {
			comment = append(comment, c)
		} else {
			comment = nil
		}
	}
	return names, comments
}

// example.env lists the same settings as the table, in the same order,
// each with the table's meaning and default.
func TestExampleEnvMatchesSettingsTable(t *testing.T) {
	names, comments := exampleEnv(t)
	var want []string
	for _, s := range settings() {
		want = append(want, s.name)
		if got, wantComment := comments[s.name], s.help+" Default: "+s.def; got != wantComment {
			t.Errorf("example.env says about %s:\n  %s\nthe table (catfish --help):\n  %s", s.name, got, wantComment)
		}
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("example.env names:\n  %v\nthe table's:\n  %v", names, want)
	}
}

// Every commented default in example.env, written out, is accepted: the
// file must be usable as it stands (scripts/check-ship.sh starts the
// binary on it too).
func TestExampleEnvDefaultsLoad(t *testing.T) {
	b, err := os.ReadFile("../example.env")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(b), "\n") {
		// As check-ship.sh does: sed -E 's/^#([A-Z_]+=)/\1/', proxies left out.
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "#"), "="); ok && strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == "" {
			line = strings.TrimPrefix(line, "#")
		}
		if !strings.Contains(line, "_PROXY=") {
			lines = append(lines, line)
		}
	}
	c, err := Load(getenvOf(nil), writeDotEnv(t, strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("example.env with every default set: %v", err)
	}
	d, _ := LoadConfig(envOf(nil))
	d.Warnings = c.Warnings
	if !reflect.DeepEqual(c, d) {
		t.Errorf("example.env's defaults differ from the built-in ones:\n got %+v\nwant %+v", c, d)
	}
	if len(c.Warnings) > 0 {
		t.Errorf("example.env draws warnings: %v", c.Warnings)
	}
}

// Both READMEs' settings tables name every setting.
func TestReadmesListEverySetting(t *testing.T) {
	for _, path := range []string{"../README.md", "../README.zh-CN.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		table := strings.Join(rows, "\n")
		for _, s := range settings() {
			if !strings.Contains(table, "`"+s.name+"`") {
				t.Errorf("%s: the settings table does not list %s", path, s.name)
			}
		}
	}
}

func TestSettingsHelp(t *testing.T) {
	help := SettingsHelp()
	for _, s := range settings() {
		if !strings.Contains(help, "\n  "+s.name+" (default: "+s.def+")\n") {
			t.Errorf("SettingsHelp does not list %s with its default %q", s.name, s.def)
		}
		if got := strings.Join(strings.Fields(help), " "); !strings.Contains(got, s.help) {
			t.Errorf("SettingsHelp does not explain %s", s.name)
		}
	}
	for i, line := range strings.Split(help, "\n") {
		if len(line) > 80 {
			t.Errorf("line %d is %d characters long: %s", i+1, len(line), line)
		}
	}
}
