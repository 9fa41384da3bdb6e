package engine

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the server's configuration, read from the environment.
type Config struct {
	// AdminKey guards /admin and /v1. Empty: generate one on first start and
	// keep it in DataDir.
	AdminKey string
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
	// BackoffBase is the first retry backoff (doubling, ±20 %). Zero: 0.5 s.
	BackoffBase time.Duration

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
	def(&c.BackoffBase, 500*time.Millisecond)
	if c.BreakerThreshold == nil {
		c.BreakerThreshold = new(3)
	}
	if c.MaxRetries == nil {
		c.MaxRetries = new(1)
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
	}
}

// LoadConfig reads the configuration through lookup (os.LookupEnv in
// production). Every malformed value is an error naming the variable:
// a typo must not silently become a default.
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
	c.AdminKey = get("ADMIN_KEY")
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
	intp("BREAKER_THRESHOLD", &c.BreakerThreshold, 0, 1000)
	intp("MAX_RETRIES", &c.MaxRetries, 0, 10)
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
	if v := get("METRICS_PUBLIC"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("METRICS_PUBLIC=%q: want true or false", v))
		}
		c.MetricsPublic = b
	}
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

// ReadDotEnv loads KEY=VALUE lines from path into a map, for variables the
// environment does not already set. A missing file is not an error.
// Lines may be blank, start with '#', or carry "export "; values may be
// quoted with ' or ".
func ReadDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
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
		v = strings.TrimSpace(v)
		if len(v) >= 1 && (v[0] == '"' || v[0] == '\'') {
			// A quoted value ends at its closing quote; a comment may follow.
			if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
				rest := strings.TrimSpace(v[end+2:])
				if rest == "" || rest[0] == '#' {
					v = v[1 : end+1]
				}
			}
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		out[k] = v
	}
	return out, sc.Err()
}

// Lookup returns a lookup function that prefers the real environment and
// falls back to dotenv.
func Lookup(dotenv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		v, ok := dotenv[k]
		return v, ok
	}
}
