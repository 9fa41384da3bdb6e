package engine

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the server's configuration, read from the environment.
type Config struct {
	// AdminKey guards /admin and /v1. Empty: generate one on first start and
	// keep it in DataDir.
	AdminKey string
	// AdminKeySource says where AdminKey came from, for the start-up log
	// (which never shows the key): "environment", ".env", "file <path>" or
	// "generated file <path>". Empty: set by New; a key set in code shows
	// as "configuration".
	AdminKeySource string
	// Addr is the listen address. Empty means ":8080".
	Addr string
	// DataDir holds the snapshot, the journal and a generated admin key.
	// Empty means "./data".
	DataDir string
	// DefaultScheme receives requests whose model names no scheme. Empty:
	// the first scheme by name.
	DefaultScheme string

	// ConnectTimeout bounds TCP connect plus TLS handshake. Zero: 10 s.
	ConnectTimeout time.Duration
	// FirstByteTimeout is the default wait for the first byte (streams:
	// first data event). Zero: 90 s.
	FirstByteTimeout time.Duration
	// IdleTimeout is the longest silence inside a response body. Zero: 90 s.
	IdleTimeout time.Duration
	// RequestTimeout bounds a whole client request. Zero: no limit.
	RequestTimeout time.Duration
	// ShutdownTimeout bounds how long open requests may finish after
	// SIGTERM. Zero: 30 s.
	ShutdownTimeout time.Duration

	// BreakerThreshold is the default consecutive_failure_threshold. Nil
	// (unset): 3. Zero turns breakers off by default.
	BreakerThreshold *int
	// BreakerCooldown is the default disable_duration_seconds. Zero: 10 s.
	BreakerCooldown time.Duration
	// BreakerMaxCooldown caps the doubling after failed probes. Zero: 30 s.
	BreakerMaxCooldown time.Duration
	// MaxRetries is the default max_retries. Nil (unset): 1.
	MaxRetries *int
	// RetryAfterMax is the longest Retry-After the proxy waits for on the
	// same channel; longer ones open the breaker instead. Zero: 10 s.
	RetryAfterMax time.Duration
	// RetryAfterOpenMax caps how long a 429's Retry-After may keep a
	// channel's breaker open (the breaker opens until the Retry-After
	// moment, at most this long). Zero: 1 h.
	RetryAfterOpenMax time.Duration
	// BackoffBase is the first retry backoff (doubling, ±20 %). Zero: 0.5 s.
	BackoffBase time.Duration

	// Continuation turns mid-stream continuation on another channel on or
	// off (SPEC section 11). Nil (unset): on.
	Continuation *bool
	// ContinueTimeout bounds one continuation. Zero: 60 s.
	ContinueTimeout time.Duration
	// MaxContinuations is how many continuations one request may use. Nil
	// (unset): 1. Zero allows none.
	MaxContinuations *int

	// ClientKeysOnly makes /v1 refuse ADMIN_KEY and take client keys only.
	// Zero (false): ADMIN_KEY works on /v1 too.
	ClientKeysOnly bool

	// BodyLimit is the largest accepted request body in bytes. Zero: 32 MiB.
	BodyLimit int64
	// LogFormat is "text" or "json". Empty: text.
	LogFormat string
	// LogLines is how many log lines /admin/logs keeps. Zero: 500.
	LogLines int
	// MetricsPublic serves /metrics without the admin key.
	MetricsPublic bool
	// Location is the time zone of day boundaries in statistics. Nil:
	// the TZ variable (also read from .env), else the system's zone.
	Location *time.Location
	// CompactBytes is the journal size that triggers compaction into a
	// new snapshot. Zero: 64 MiB.
	CompactBytes int64
	// Version is the build's version string, shown by --version and /healthz.
	Version string

	// Warnings are problems found while loading that do not stop start-up
	// (an unknown name in .env); New logs them. Nil: none.
	Warnings []string
}

// setting is one environment variable Catfish reads.
type setting struct {
	name string
	def  string // the default as people read it: "90", "generated", "empty"
	help string
	// envOnly: read by the Go runtime from the process environment, not
	// by LoadConfig, so a .env file cannot set it.
	envOnly bool
}

// settings is the one list of Catfish's settings, in example.env's order:
// `catfish --help` prints it, and tests hold LoadConfig, example.env and
// the READMEs to the same names. Durations are seconds or Go durations.
func settings() []setting {
	return []setting{
		{name: "ADMIN_KEY", def: "generated", help: "Key for the admin page, /admin and /v1. It also opens /admin/export, which holds every upstream key: keep it to yourself, do not hand it to apps. Set a long random secret (e.g. openssl rand -hex 24); one shorter than 16 characters draws a warning when listening on all interfaces. Empty: generated on first start, saved in DATA_DIR/admin_key, printed once in the log."},
		{name: "PORT", def: "8080", help: "Port to listen on (with Docker Compose: the host port; the container always uses 8080)."},
		{name: "HOST", def: "empty", help: "Interface to listen on; empty means all (0.0.0.0 and ::). Ignored by Docker Compose."},
		{name: "LISTEN", def: "empty", help: "Full listen address (host:port), overriding HOST and PORT. Ignored by Docker Compose."},
		{name: "DATA_DIR", def: "./data", help: "Folder for the snapshot, the journal and a generated admin key (Docker Compose: always /data)."},
		{name: "DEFAULT_SCHEME", def: "empty", help: "Scheme for requests whose model names no scheme; empty means the first scheme by name."},
		{name: "CONNECT_TIMEOUT", def: "10", help: "Upstream TCP connect plus TLS handshake limit."},
		{name: "FIRST_BYTE_TIMEOUT", def: "90", help: "Default wait for an upstream's first byte (streams: first data event)."},
		{name: "STREAM_IDLE_TIMEOUT", def: "90", help: "Longest silence inside an upstream response body."},
		{name: "REQUEST_TIMEOUT", def: "0", help: "Limit on a whole client request, retries and failover included; 0 means no limit."},
		{name: "SHUTDOWN_TIMEOUT", def: "30", help: "How long open requests and streams may finish after SIGTERM."},
		{name: "BREAKER_THRESHOLD", def: "3", help: "Default consecutive failures that open a channel's breaker; 0 turns breakers off (0-1000)."},
		{name: "BREAKER_COOLDOWN", def: "10", help: "Default time an opened breaker keeps a channel out."},
		{name: "BREAKER_MAX_COOLDOWN", def: "30", help: "Cap on the cooldown, which doubles after each failed probe."},
		{name: "RETRY_AFTER_MAX", def: "10", help: "Longest upstream Retry-After waited for on the same channel; a longer one on a 429 opens the channel's breaker until then."},
		{name: "RETRY_AFTER_OPEN_MAX", def: "1h", help: "Cap on how long an upstream's 429 Retry-After may keep a channel's breaker open."},
		{name: "MAX_RETRIES", def: "1", help: "Default retries on the same channel for transient errors (429, 5xx, reset) before failing over (0-10)."},
		{name: "CONTINUATION", def: "on", help: "Mid-stream continuation: a stream that breaks after it started continues on the next channel, so the client gets one whole answer: on or off."},
		{name: "CONTINUE_TIMEOUT", def: "60", help: "Limit on one continuation."},
		{name: "MAX_CONTINUATIONS", def: "1", help: "Continuations one request may use (0-10)."},
		{name: "CLIENT_KEYS_ONLY", def: "false", help: "Make /v1 refuse ADMIN_KEY and take client keys only: true or false."},
		{name: "BODY_LIMIT", def: "32MiB", help: "Largest accepted request body: bytes or 32MiB, 512KiB, 1GiB."},
		{name: "LOG_FORMAT", def: "text", help: "Log format: text or json."},
		{name: "LOG_LINES", def: "500", help: "Log lines kept for the admin page (/admin/logs), 1-100000."},
		{name: "METRICS_PUBLIC", def: "false", help: "Serve /metrics (Prometheus) without the admin key: true or false."},
		{name: "TZ", def: "empty", help: "Time zone of day boundaries in statistics, e.g. Asia/Shanghai; empty means the system's (in Docker: UTC)."},
		{name: "HTTPS_PROXY", def: "none", envOnly: true, help: "Outbound proxy for upstream requests (HTTP_PROXY and NO_PROXY work too), read from the real environment only, not from .env (Docker Compose passes .env in)."},
	}
}

// SettingsHelp describes every setting with its default and meaning, for
// `catfish --help`.
func SettingsHelp() string {
	var b strings.Builder
	b.WriteString("Settings come from the environment, then from a .env file in the working\n" +
		"directory; an empty value counts as unset. Durations are seconds (\"90\") or\n" +
		"Go durations (\"1m30s\"). example.env lists them all.\n")
	for _, s := range settings() {
		fmt.Fprintf(&b, "\n  %s (default: %s)\n", s.name, s.def)
		line := "     "
		for _, w := range strings.Fields(s.help) {
			if len(line)+1+len(w) > 79 && line != "     " {
				b.WriteString(line + "\n")
				line = "     "
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	def(&c.ConnectTimeout, 10*time.Second)
	def(&c.FirstByteTimeout, 90*time.Second)
	def(&c.IdleTimeout, 90*time.Second)
	def(&c.ShutdownTimeout, 30*time.Second)
	def(&c.BreakerCooldown, 10*time.Second)
	def(&c.BreakerMaxCooldown, 30*time.Second)
	def(&c.RetryAfterMax, 10*time.Second)
	def(&c.RetryAfterOpenMax, time.Hour)
	def(&c.BackoffBase, 500*time.Millisecond)
	def(&c.ContinueTimeout, 60*time.Second)
	if c.BreakerThreshold == nil {
		c.BreakerThreshold = new(3)
	}
	if c.MaxRetries == nil {
		c.MaxRetries = new(1)
	}
	if c.Continuation == nil {
		c.Continuation = new(true)
	}
	if c.MaxContinuations == nil {
		c.MaxContinuations = new(1)
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = 32 << 20
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.LogLines == 0 {
		c.LogLines = 500
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.CompactBytes == 0 {
		c.CompactBytes = 64 << 20
		if n, err := strconv.ParseInt(compactBytes, 10, 64); err == nil && n > 0 {
			c.CompactBytes = n
		}
	}
}

// compactBytes is a test hook, set only at link time: the crash tests
// build the real binary with -ldflags "-X catfish/engine.compactBytes=1"
// so that it compacts on every flush. Empty (every real build): the
// default CompactBytes stands.
var compactBytes string

// LoadConfig reads the configuration through lookup (os.LookupEnv in
// production; Load adds the .env file). An unset or empty variable takes
// its default. Every malformed value is an error naming the variable: a
// typo must not silently become a default.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	var errs []error
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	dur := func(name string, dst *time.Duration) {
		if v := get(name); v != "" {
			d, err := parseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
			*dst = d
		}
	}
	intp := func(name string, dst **int, lo, hi int) {
		if v := get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				errs = append(errs, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi))
				return
			}
			*dst = &n
		}
	}
	boolean := func(name string, dst *bool) {
		if v := get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want true or false", name, v))
			}
			*dst = b
		}
	}
	if c.AdminKey = get("ADMIN_KEY"); c.AdminKey != "" {
		c.AdminKeySource = "environment"
	}
	if p := get("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("PORT=%q: want a port number", p))
		}
		c.Addr = net.JoinHostPort(get("HOST"), p)
	} else if h := get("HOST"); h != "" {
		c.Addr = net.JoinHostPort(h, "8080")
	}
	if a := get("LISTEN"); a != "" {
		c.Addr = a
	}
	c.DataDir = get("DATA_DIR")
	c.DefaultScheme = get("DEFAULT_SCHEME")
	dur("CONNECT_TIMEOUT", &c.ConnectTimeout)
	dur("FIRST_BYTE_TIMEOUT", &c.FirstByteTimeout)
	dur("STREAM_IDLE_TIMEOUT", &c.IdleTimeout)
	dur("REQUEST_TIMEOUT", &c.RequestTimeout)
	dur("SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	dur("BREAKER_COOLDOWN", &c.BreakerCooldown)
	dur("BREAKER_MAX_COOLDOWN", &c.BreakerMaxCooldown)
	dur("RETRY_AFTER_MAX", &c.RetryAfterMax)
	dur("RETRY_AFTER_OPEN_MAX", &c.RetryAfterOpenMax)
	intp("BREAKER_THRESHOLD", &c.BreakerThreshold, 0, 1000)
	intp("MAX_RETRIES", &c.MaxRetries, 0, 10)
	if v := get("CONTINUATION"); v != "" {
		switch strings.ToLower(v) {
		case "on", "true", "1":
			c.Continuation = new(true)
		case "off", "false", "0":
			c.Continuation = new(false)
		default:
			errs = append(errs, fmt.Errorf("CONTINUATION=%q: want on or off", v))
		}
	}
	dur("CONTINUE_TIMEOUT", &c.ContinueTimeout)
	intp("MAX_CONTINUATIONS", &c.MaxContinuations, 0, 10)
	boolean("CLIENT_KEYS_ONLY", &c.ClientKeysOnly)
	if v := get("BODY_LIMIT"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("BODY_LIMIT=%q: %w", v, err))
		}
		c.BodyLimit = n
	}
	switch f := strings.ToLower(get("LOG_FORMAT")); f {
	case "", "text", "json":
		c.LogFormat = f
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q: want text or json", f))
	}
	if v := get("LOG_LINES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			errs = append(errs, fmt.Errorf("LOG_LINES=%q: want 1 to 100000", v))
		}
		c.LogLines = n
	}
	boolean("METRICS_PUBLIC", &c.MetricsPublic)
	if tz := get("TZ"); tz != "" {
		loc, err := time.LoadLocation(strings.TrimPrefix(tz, ":"))
		if err != nil {
			errs = append(errs, fmt.Errorf("TZ=%q: unknown time zone", tz))
		}
		c.Location = loc
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	c.setDefaults()
	return c, nil
}

// parseDuration reads "90" (seconds, as the original's settings were) or a
// Go duration such as "1m30s" or "500ms". Negative values are refused.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if !(n >= 0 && n <= 1e7) { // refuses NaN too
			return 0, errors.New("want a non-negative number of seconds")
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("want seconds (\"90\") or a duration (\"1m30s\")")
	}
	return d, nil
}

// parseSize reads a byte count: "33554432", "32MiB", "32MB", "512KiB".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, errors.New("want a positive size such as 33554432 or 32MiB")
	}
	return n * mult, nil
}

// DotEnv is a parsed .env file.
type DotEnv struct {
	Path   string
	Values map[string]string // the last line of a name wins
	lines  map[string]int    // the line each name was last set on
}

// ReadDotEnv reads KEY=VALUE lines from path. A missing file is not an
// error: it gives nil, nil. Lines may be blank, start with '#', or carry
// "export "; a value may be quoted with ' or " and followed by a
// " # comment". A quote that is not closed, or text after the closing
// quote, is an error naming path:line (never the value, which may be a
// key).
func ReadDotEnv(path string) (*DotEnv, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &DotEnv{Path: path, Values: map[string]string{}, lines: map[string]int{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		v, err := dotEnvValue(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", path, n, k, err)
		}
		d.Values[k], d.lines[k] = v, n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// dotEnvValue unquotes a .env value, or drops a trailing " # comment"
// from an unquoted one.
func dotEnvValue(v string) (string, error) {
	if v == "" || (v[0] != '"' && v[0] != '\'') {
		for i := 1; i < len(v); i++ {
			if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
				return strings.TrimSpace(v[:i]), nil
			}
		}
		return v, nil
	}
	end := strings.IndexByte(v[1:], v[0])
	if end < 0 {
		return "", fmt.Errorf("the %c quote is never closed", v[0])
	}
	if rest := strings.TrimSpace(v[end+2:]); rest != "" && rest[0] != '#' {
		return "", errors.New(`text after the closing quote (a comment needs " #")`)
	}
	return v[1 : end+1], nil
}

// Load reads the configuration as catfish starts: getenv (os.LookupEnv)
// first, then the .env file at dotEnvPath for what the environment does
// not set. An empty variable counts as unset, in either place, so an
// empty ADMIN_KEY= in the environment does not hide the .env file's key.
// Unknown names in .env are warnings in Config.Warnings (people keep
// other variables there); malformed lines and values are errors.
func Load(getenv func(string) (string, bool), dotEnvPath string) (Config, error) {
	d, err := ReadDotEnv(dotEnvPath)
	if err != nil {
		return Config{}, err
	}
	c, err := LoadConfig(d.lookup(getenv))
	if err != nil {
		return Config{}, err
	}
	if c.AdminKey != "" && d.from(getenv, "ADMIN_KEY") == ".env" {
		c.AdminKeySource = ".env"
	}
	c.Warnings = d.warnings(getenv)
	return c, nil
}

// lookup prefers a non-empty value in the environment and falls back to
// the file (d may be nil: no file).
func (d *DotEnv) lookup(getenv func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := getenv(k); ok && strings.TrimSpace(v) != "" {
			return v, true
		}
		if d == nil {
			return "", false
		}
		v, ok := d.Values[k]
		return v, ok
	}
}

// from says where lookup finds name: "environment", ".env" or "" (unset).
func (d *DotEnv) from(getenv func(string) (string, bool), name string) string {
	if v, ok := getenv(name); ok && strings.TrimSpace(v) != "" {
		return "environment"
	}
	if d != nil && strings.TrimSpace(d.Values[name]) != "" {
		return ".env"
	}
	return ""
}

// warnings lists the names in the file that Catfish does not read, in
// line order, each with its path:line and the setting it is closest to.
func (d *DotEnv) warnings(getenv func(string) (string, bool)) []string {
	if d == nil {
		return nil
	}
	known := map[string]setting{}
	for _, s := range settings() {
		known[s.name] = s
	}
	var out []string
	for _, k := range slices.SortedFunc(maps.Keys(d.lines), func(a, b string) int { return d.lines[a] - d.lines[b] }) {
		at := fmt.Sprintf("%s:%d", d.Path, d.lines[k])
		if s, ok := known[k]; ok && !s.envOnly {
			continue
		}
		switch strings.ToUpper(k) {
		case "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY":
			// net/http reads these from the process environment only.
			if _, ok := getenv(k); !ok {
				out = append(out, fmt.Sprintf("%s: %s in .env is not used: the upstream proxy is read from the real environment only (export it; Docker Compose passes .env in)", at, k))
			}
			continue
		}
		msg := fmt.Sprintf("%s: %s is not a catfish setting and is ignored", at, k)
		if near, dist := closestSetting(k); dist <= 1+len(k)/5 {
			msg += "; did you mean " + near + "?"
		} else {
			msg += " (catfish --help lists the settings)"
		}
		out = append(out, msg)
	}
	return out
}

// closestSetting is the setting name nearest to name (ignoring case) by
// edit distance, adjacent transpositions counting as one edit.
func closestSetting(name string) (string, int) {
	best, bestDist := "", -1
	for _, s := range settings() {
		if d := editDistance(strings.ToUpper(name), s.name); bestDist < 0 || d < bestDist {
			best, bestDist = s.name, d
		}
	}
	return best, bestDist
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
