package channel

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Settings is one channel as the admin API, exports and data files spell
// it. The JSON names are catfishAPIAgg's and must not change; the fields
// after Model are additions. Nullable numbers are pointers: nil means "use
// the server default".
type Settings struct {
	ID                          string  `json:"id"`
	Priority                    int     `json:"priority"`
	URL                         string  `json:"url"`
	APIKey                      string  `json:"api_key"`
	Model                       *string `json:"model"`
	ConsecutiveFailureThreshold *int    `json:"consecutive_failure_threshold"`
	DisableDurationSeconds      *int    `json:"disable_duration_seconds"`
	Name                        string  `json:"name"`
	Enabled                     bool    `json:"enabled"`
	TimeoutSeconds              *int    `json:"timeout_seconds"`
	MaxRetries                  *int    `json:"max_retries"`
	// Type is the wire format the upstream speaks: TypeOpenAI (also
	// when empty, as in the original's files) or TypeAnthropic.
	Type string `json:"type"`
	// Responses: an openai upstream that serves /v1/responses itself;
	// Responses clients are passed through to it instead of translated.
	Responses bool `json:"responses"`
	// Headers are extra upstream headers (Azure's api-key, OpenRouter's
	// HTTP-Referer), added last. Their values are secrets like the key.
	Headers map[string]string `json:"headers"`
	// Prefill says whether the upstream continues a trailing assistant
	// message; nil: true for anthropic, false for openai.
	Prefill *bool  `json:"prefill"`
	Scheme  string `json:"scheme_name"`
}

// Channel types: the dialect an upstream speaks.
const (
	TypeOpenAI    = "openai"
	TypeAnthropic = "anthropic"
)

// UnmarshalJSON reads a stored or imported channel. A missing "enabled"
// means true: the original had no such switch and every channel was live;
// a missing "type" means openai, the only kind it had.
func (s *Settings) UnmarshalJSON(data []byte) error {
	type plain Settings
	p := plain{Enabled: true}
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	if p.Type == "" {
		p.Type = TypeOpenAI // the original's channels all spoke OpenAI
	}
	*s = Settings(p)
	return nil
}

// DefaultScheme is the scheme a channel joins when none is named.
const DefaultScheme = "default"

// ErrNotFound is returned for an unknown channel id.
var ErrNotFound = errors.New("channel not found")

// FieldError says which input field was rejected and why.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Limits on input sizes: generous for people, small enough that a hostile
// document cannot make a channel expensive to hold or to log.
const (
	maxURLLen    = 2048
	maxKeyLen    = 4096
	maxNameLen   = 200
	maxModelLen  = 256
	maxSchemeLen = 128
	maxHeaders   = 32
	maxHeaderLen = 4096
	// MaxSeconds bounds every seconds field (30 days).
	MaxSeconds = 30 * 24 * 3600
	// MaxRetriesLimit bounds max_retries.
	MaxRetriesLimit = 10
	// MaxThreshold bounds consecutive_failure_threshold.
	MaxThreshold = 1000
)

// Validate checks a complete channel. Create and update both end here, as
// does import, so every path into the state obeys the same rules.
func (s *Settings) Validate() error {
	if err := ValidateURL(s.URL); err != nil {
		return err
	}
	if strings.TrimSpace(s.APIKey) == "" {
		return fieldErr("api_key", "is required")
	}
	if len(s.APIKey) > maxKeyLen || !printable(s.APIKey) {
		return fieldErr("api_key", "must be printable text of at most %d bytes", maxKeyLen)
	}
	if s.Priority < -1_000_000 || s.Priority > 1_000_000 {
		return fieldErr("priority", "must be between -1000000 and 1000000")
	}
	if s.Model != nil && (len(*s.Model) > maxModelLen || !utf8.ValidString(*s.Model)) {
		return fieldErr("model", "must be at most %d bytes of text", maxModelLen)
	}
	if err := checkRange("consecutive_failure_threshold", s.ConsecutiveFailureThreshold, 0, MaxThreshold); err != nil {
		return err
	}
	if err := checkRange("disable_duration_seconds", s.DisableDurationSeconds, 0, MaxSeconds); err != nil {
		return err
	}
	if err := checkRange("timeout_seconds", s.TimeoutSeconds, 1, MaxSeconds); err != nil {
		return err
	}
	if err := checkRange("max_retries", s.MaxRetries, 0, MaxRetriesLimit); err != nil {
		return err
	}
	if len(s.Name) > maxNameLen || !utf8.ValidString(s.Name) {
		return fieldErr("name", "must be at most %d bytes of text", maxNameLen)
	}
	switch s.Type {
	case "", TypeOpenAI:
	case TypeAnthropic:
		if s.Responses {
			return fieldErr("responses", "is only for openai channels (an anthropic upstream does not serve /v1/responses)")
		}
	default:
		return fieldErr("type", "must be %q or %q", TypeOpenAI, TypeAnthropic)
	}
	if err := validateHeaders(s.Headers); err != nil {
		return err
	}
	return ValidateScheme(s.Scheme)
}

// validateHeaders checks extra upstream headers: real header names, at
// most maxHeaders of them, printable values, and none that the proxy
// itself must set (framing, hop-by-hop, the host).
func validateHeaders(h map[string]string) error {
	if len(h) > maxHeaders {
		return fieldErr("headers", "may hold at most %d headers", maxHeaders)
	}
	for name, v := range h {
		if name == "" || len(name) > 100 || !isToken(name) {
			return fieldErr("headers", "%q is not a valid header name", name)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive",
			"Upgrade", "Te", "Trailer", "Proxy-Connection", "Accept-Encoding":
			return fieldErr("headers", "%s is set by the proxy and cannot be overridden", name)
		}
		if len(v) > maxHeaderLen || !printable(v) {
			return fieldErr("headers", "the value of %s must be printable text of at most %d bytes", name, maxHeaderLen)
		}
	}
	return nil
}

// isToken reports an HTTP token (RFC 9110): a header name.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// ValidateScheme checks a scheme name.
func ValidateScheme(name string) error {
	if strings.TrimSpace(name) == "" {
		return fieldErr("scheme_name", "must not be empty")
	}
	if len(name) > maxSchemeLen || !printable(name) {
		return fieldErr("scheme_name", "must be printable text of at most %d bytes", maxSchemeLen)
	}
	return nil
}

// ValidateURL checks a channel base URL: absolute http(s), a host, no
// query, fragment or credentials.
func ValidateURL(raw string) error {
	if raw == "" {
		return fieldErr("url", "is required")
	}
	if len(raw) > maxURLLen {
		return fieldErr("url", "is longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErr("url", "is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fieldErr("url", "must start with http:// or https://")
	}
	if u.Host == "" || u.Hostname() == "" {
		return fieldErr("url", "has no host")
	}
	if u.User != nil {
		return fieldErr("url", "must not carry credentials; put the key in api_key")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") || u.Opaque != "" {
		return fieldErr("url", "must be a base URL without query or fragment")
	}
	return nil
}

func checkRange(field string, v *int, lo, hi int) error {
	if v != nil && (*v < lo || *v > hi) {
		return fieldErr(field, "must be between %d and %d, or null for the server default", lo, hi)
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Patch is a decoded create or update body: only fields present in the
// JSON are set, so an update keeps what it does not mention. A field sent
// as null is present with a nil value (Set but Null).
type Patch struct {
	Priority                    Field[int]
	URL                         Field[string]
	APIKey                      Field[string]
	Model                       Field[string]
	ConsecutiveFailureThreshold Field[int]
	DisableDurationSeconds      Field[int]
	Name                        Field[string]
	Enabled                     Field[bool]
	TimeoutSeconds              Field[int]
	MaxRetries                  Field[int]
	Type                        Field[string]
	Responses                   Field[bool]
	Headers                     Field[map[string]string]
	Prefill                     Field[bool]
	Scheme                      Field[string]
}

// Fields names the fields p sets, in the JSON spelling, for logs: the
// names only, never the values.
func (p Patch) Fields() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"priority", p.Priority.Set}, {"url", p.URL.Set}, {"api_key", p.APIKey.Set}, {"model", p.Model.Set},
		{"consecutive_failure_threshold", p.ConsecutiveFailureThreshold.Set},
		{"disable_duration_seconds", p.DisableDurationSeconds.Set}, {"name", p.Name.Set}, {"enabled", p.Enabled.Set},
		{"timeout_seconds", p.TimeoutSeconds.Set}, {"max_retries", p.MaxRetries.Set}, {"scheme_name", p.Scheme.Set},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// Field is one optional, nullable input value.
type Field[T any] struct {
	Set   bool // present in the input
	Null  bool // present as JSON null
	Value T
}

// ignoredField reports input names that are accepted and ignored: the
// original's fields that Catfish does not implement (so its clients and
// exports keep working) and the read-only fields the API returns (so a GET
// answer sent back as a PUT body works). Any other unknown name is an
// error, so a typo ("priorty") is not a silent no-op.
func ignoredField(name string) bool {
	switch name {
	case "request_overrides", "injection_position", "injected_messages",
		"user_agent_mode", "custom_user_agent", "stream_mode_strategy",
		"endpoint_preset", "image_upstream_mode", "image_generation_path",
		"image_edit_path", "image_custom_generation_path", "image_custom_edit_path",
		"image_custom_reference_field", "image_custom_reference_mode",
		"image_custom_include_reference_when_empty", "image_task_poll_timeout_seconds",
		"image_task_poll_interval_seconds", "id", "breaker", "prefill_rejected":
		return true
	}
	return false
}

// settingsField reports the JSON names of Settings, spelled exactly as
// its tags spell them (read off the type, so a new field needs no list).
func settingsField(name string) bool {
	t := reflect.TypeFor[Settings]()
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
			return true
		}
	}
	return false
}

// DecodeSettings reads one channel of an imported document strictly:
// every member must be a field of Settings or one of the ignored ones
// (ignoredField), spelled exactly. encoding/json alone would take "URL"
// for "url" and drop a typo without a word. Every error is a *FieldError
// naming the member ("body" for the document itself).
func DecodeSettings(data []byte) (Settings, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return Settings{}, fieldErr("body", "each channel must be a JSON object")
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !settingsField(name) && !ignoredField(name) {
			return Settings{}, fieldErr(name, "is not a known field (names are case-sensitive)")
		}
	}
	var s Settings
	if err := json.Unmarshal(data, &s); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Settings{}, fieldErr(te.Field, "must be %s, not %s", kindName(te.Type), te.Value)
		}
		return Settings{}, fieldErr("body", "each channel must be a JSON object")
	}
	return s, nil
}

func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

// MaxIDLen bounds a channel id: ids travel in every X-Catfish-Attempts
// header, log line and metric label.
const MaxIDLen = 64

// ValidID reports an id fit to keep: 1 to MaxIDLen letters, digits, '-'
// or '_', as the uuids Catfish and catfishAPIAgg make are. Nothing in it
// can break a header, a path segment or a list.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DecodePatch reads a JSON object into a Patch. Every error is a
// *FieldError naming the offending field ("body" for the document itself).
func DecodePatch(data []byte) (Patch, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return Patch{}, fieldErr("body", "must be a JSON object")
	}
	var p Patch
	for name, v := range raw {
		var err error
		switch name {
		case "priority":
			err = decodeField(name, v, &p.Priority, false)
		case "url":
			err = decodeField(name, v, &p.URL, false)
		case "api_key":
			err = decodeField(name, v, &p.APIKey, false)
		case "model":
			err = decodeField(name, v, &p.Model, true)
		case "consecutive_failure_threshold":
			err = decodeField(name, v, &p.ConsecutiveFailureThreshold, true)
		case "disable_duration_seconds":
			err = decodeField(name, v, &p.DisableDurationSeconds, true)
		case "name":
			err = decodeField(name, v, &p.Name, true)
		case "enabled":
			err = decodeField(name, v, &p.Enabled, false)
		case "timeout_seconds":
			err = decodeField(name, v, &p.TimeoutSeconds, true)
		case "max_retries":
			err = decodeField(name, v, &p.MaxRetries, true)
		case "type":
			err = decodeField(name, v, &p.Type, true)
		case "responses":
			err = decodeField(name, v, &p.Responses, false)
		case "headers":
			err = decodeField(name, v, &p.Headers, true)
		case "prefill":
			err = decodeField(name, v, &p.Prefill, true)
		case "scheme_name":
			err = decodeField(name, v, &p.Scheme, false)
		default:
			if !ignoredField(name) {
				err = fieldErr(name, "is not a known field")
			}
		}
		if err != nil {
			return Patch{}, err
		}
	}
	return p, nil
}

func decodeField[T any](name string, raw json.RawMessage, f *Field[T], nullable bool) error {
	f.Set = true
	if string(raw) == "null" {
		if !nullable {
			return fieldErr(name, "must not be null")
		}
		f.Null = true
		return nil
	}
	if err := json.Unmarshal(raw, &f.Value); err != nil {
		var zero T
		return fieldErr(name, "must be %s", typeName(zero))
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case int:
		return "an integer"
	case string:
		return "a string"
	case bool:
		return "true or false"
	case map[string]string:
		return "an object of header names to string values"
	}
	return "a valid value"
}

// NewFromPatch builds a channel for create. Required fields must be
// present; scheme defaults to "default" and enabled to true.
func NewFromPatch(id string, p Patch) (Settings, error) {
	for _, req := range []struct {
		name string
		set  bool
	}{{"priority", p.Priority.Set}, {"url", p.URL.Set}, {"api_key", p.APIKey.Set}} {
		if !req.set {
			return Settings{}, fieldErr(req.name, "is required")
		}
	}
	for name, v := range p.Headers.Value {
		if IsMasked(v, "") {
			return Settings{}, fieldErr("headers", "%s has a masked value: type the value", name)
		}
	}
	s := Settings{ID: id, Enabled: true, Scheme: DefaultScheme, Type: TypeOpenAI}
	if err := s.apply(p); err != nil {
		return Settings{}, err
	}
	return s, s.Validate()
}

// ApplyPatch returns s updated by p. A masked key (as GET shows it) or an
// omitted key keeps the stored one.
func ApplyPatch(s Settings, p Patch) (Settings, error) {
	if p.APIKey.Set && (p.APIKey.Value == "" || IsMasked(p.APIKey.Value, s.APIKey)) {
		p.APIKey = Field[string]{}
	}
	// A header sent back masked (as GET shows it) keeps its stored value;
	// a masked value under a name with no stored value would be stored as
	// the mask itself.
	for name, v := range p.Headers.Value {
		old, ok := s.Headers[name]
		switch {
		case ok && IsMasked(v, old):
			p.Headers.Value[name] = old
		case !ok && IsMasked(v, ""):
			return Settings{}, fieldErr("headers", "%s has a masked value and no stored value to keep: type the value", name)
		}
	}
	if err := s.apply(p); err != nil {
		return Settings{}, err
	}
	return s, s.Validate()
}

func (s *Settings) apply(p Patch) error {
	if p.Priority.Set {
		s.Priority = p.Priority.Value
	}
	if p.URL.Set {
		s.URL = strings.TrimSpace(p.URL.Value)
	}
	if p.APIKey.Set {
		s.APIKey = strings.TrimSpace(p.APIKey.Value)
	}
	if p.Model.Set {
		s.Model = nil
		if m := strings.TrimSpace(p.Model.Value); !p.Model.Null && m != "" {
			s.Model = &m
		}
	}
	setOpt(&s.ConsecutiveFailureThreshold, p.ConsecutiveFailureThreshold)
	setOpt(&s.DisableDurationSeconds, p.DisableDurationSeconds)
	setOpt(&s.TimeoutSeconds, p.TimeoutSeconds)
	setOpt(&s.MaxRetries, p.MaxRetries)
	if p.Name.Set {
		s.Name = strings.TrimSpace(p.Name.Value)
	}
	if p.Enabled.Set {
		s.Enabled = p.Enabled.Value
	}
	if p.Type.Set {
		s.Type = cmp.Or(strings.ToLower(strings.TrimSpace(p.Type.Value)), TypeOpenAI)
	}
	if p.Responses.Set {
		s.Responses = p.Responses.Value
	}
	if p.Headers.Set {
		s.Headers = nil
		if len(p.Headers.Value) > 0 {
			s.Headers = maps.Clone(p.Headers.Value)
		}
	}
	if p.Prefill.Set {
		s.Prefill = nil
		if !p.Prefill.Null {
			v := p.Prefill.Value
			s.Prefill = &v
		}
	}
	if p.Scheme.Set {
		s.Scheme = strings.TrimSpace(p.Scheme.Value)
	}
	return nil
}

func setOpt(dst **int, f Field[int]) {
	if !f.Set {
		return
	}
	if f.Null {
		*dst = nil
		return
	}
	v := f.Value
	*dst = &v
}

// Mask hides a key for display: "sk-…abcd". Short keys show no characters
// at all, so the mask never gives away most of a key.
func Mask(key string) string {
	runes := []rune(key)
	if len(runes) < 12 {
		return "…"
	}
	tail := string(runes[len(runes)-4:])
	prefix := ""
	if i := strings.IndexAny(key, "-_"); i > 0 && i <= 4 && len(runes) >= 2*(i+1+4) {
		// Only when the prefix and the tail together show less than half.
		prefix = key[:i+1]
	}
	return prefix + "…" + tail
}

// IsMasked reports whether in is what Mask shows for stored, or any other
// masked form, i.e. contains the ellipsis that no real key carries.
func IsMasked(in, stored string) bool {
	return in == Mask(stored) || strings.Contains(in, "…") || strings.Contains(in, "...")
}

// Resolved is a channel's settings with server defaults filled in: what one
// attempt needs to know. It is a copy; holders may keep it (Headers is
// never changed in place).
type Resolved struct {
	ID         string
	URL        string // base URL, no trailing slash
	APIKey     string
	Model      string // override; empty: keep the client's
	FirstByte  time.Duration
	MaxRetries int
	Breaker    BreakerConfig
	Enabled    bool
	Type       string // TypeOpenAI or TypeAnthropic
	Responses  bool
	Headers    map[string]string
	Prefill    bool
}

// Secrets are the values the proxy must never show: the key and the
// extra headers' values.
func (r *Resolved) Secrets() []string {
	out := make([]string, 0, 1+len(r.Headers))
	out = append(out, r.APIKey)
	for _, v := range r.Headers {
		out = append(out, v)
	}
	return out
}

// Defaults are the server-wide values for a channel's null fields.
type Defaults struct {
	// Threshold is the default consecutive_failure_threshold; 0 = breaker off.
	Threshold int
	// Cooldown is the default disable_duration_seconds.
	Cooldown time.Duration
	// MaxCooldown caps the doubling after failed probes.
	MaxCooldown time.Duration
	// FirstByte is the default timeout_seconds.
	FirstByte time.Duration
	// MaxRetries is the default max_retries.
	MaxRetries int
}

// Resolve fills s's null fields from d.
func (s Settings) Resolve(d Defaults) Resolved {
	r := Resolved{
		ID:         s.ID,
		URL:        strings.TrimRight(s.URL, "/"),
		APIKey:     s.APIKey,
		FirstByte:  d.FirstByte,
		MaxRetries: d.MaxRetries,
		Enabled:    s.Enabled,
		Breaker:    BreakerConfig{Threshold: d.Threshold, Cooldown: d.Cooldown, MaxCooldown: d.MaxCooldown},
		Type:       s.TypeOrDefault(),
		Responses:  s.Responses,
		Headers:    s.Headers,
	}
	r.Prefill = r.Type == TypeAnthropic
	if s.Prefill != nil {
		r.Prefill = *s.Prefill
	}
	if s.Model != nil {
		r.Model = *s.Model
	}
	if s.TimeoutSeconds != nil {
		r.FirstByte = time.Duration(*s.TimeoutSeconds) * time.Second
	}
	if s.MaxRetries != nil {
		r.MaxRetries = *s.MaxRetries
	}
	if s.ConsecutiveFailureThreshold != nil {
		r.Breaker.Threshold = *s.ConsecutiveFailureThreshold
	}
	if s.DisableDurationSeconds != nil {
		r.Breaker.Cooldown = time.Duration(*s.DisableDurationSeconds) * time.Second
	}
	return r
}

// TypeOrDefault is the channel's type, TypeOpenAI when none is set.
func (s Settings) TypeOrDefault() string {
	if s.Type == "" {
		return TypeOpenAI
	}
	return s.Type
}

// Public returns a copy fit to show: the key and header values masked.
func (s Settings) Public() Settings {
	s.APIKey = Mask(s.APIKey)
	if len(s.Headers) > 0 {
		h := make(map[string]string, len(s.Headers))
		for k, v := range s.Headers {
			h[k] = Mask(v)
		}
		s.Headers = h
	}
	return s
}

// Clone returns a deep copy (the pointer fields are not shared).
func (s Settings) Clone() Settings {
	s.Model = clonePtr(s.Model)
	s.ConsecutiveFailureThreshold = clonePtr(s.ConsecutiveFailureThreshold)
	s.DisableDurationSeconds = clonePtr(s.DisableDurationSeconds)
	s.TimeoutSeconds = clonePtr(s.TimeoutSeconds)
	s.MaxRetries = clonePtr(s.MaxRetries)
	s.Prefill = clonePtr(s.Prefill)
	s.Headers = maps.Clone(s.Headers)
	return s
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
