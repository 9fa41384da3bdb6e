// Package httpapi is Catfish's HTTP surface: the OpenAI-compatible /v1
// endpoint, the admin REST API, health, metrics and the admin page.
//
// Handlers decode, call, encode. The work behind them is done by the
// engine, reached through the small interfaces declared here; every error
// becomes an answer in exactly one place (WriteError), in OpenAI's shape.
// The package holds no mutable state of its own.
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/keys"
	"catfish/engine/state"
	"catfish/engine/stats"
	"catfish/scheme"
)

// Proxy serves /v1.
type Proxy interface {
	// Proxy answers one request of caller c. It either writes the whole
	// answer and returns nil, or writes nothing and returns the error to
	// send.
	Proxy(w http.ResponseWriter, r *http.Request, in *dialect.Inbound, c keys.Caller) error
	// Models lists the scheme names, which clients use as model ids.
	Models(ctx context.Context) ([]string, error)
}

// Admin serves /admin.
type Admin interface {
	// Channels returns every channel by scheme, keys masked.
	Channels(ctx context.Context) (map[string][]channel.View, error)
	CreateChannel(ctx context.Context, p channel.Patch) (channel.View, error)
	UpdateChannel(ctx context.Context, id string, p channel.Patch) (channel.View, error)
	DeleteChannel(ctx context.Context, id string) error
	// ResetChannel closes the channel's breaker.
	ResetChannel(ctx context.Context, id string) (channel.View, error)
	// TestChannel sends a one-token request through that channel only;
	// model may be empty.
	TestChannel(ctx context.Context, id, model string) (channel.TestResult, error)
	// Stats is the /admin/stats document.
	Stats(ctx context.Context) (*stats.View, error)
	// Requests lists recent requests with their attempt chains.
	Requests(ctx context.Context) ([]stats.Recent, error)
	// Logs returns the newest log lines, oldest first.
	Logs(ctx context.Context) ([]string, error)
	// Export returns the whole configuration: channels with their
	// upstream keys, scheme settings, client keys as hashes.
	Export(ctx context.Context) (state.Export, error)
	// Import replaces (or with merge, upserts) the configuration from a
	// Catfish export or catfishAPIAgg's config.json.
	Import(ctx context.Context, doc []byte, opt state.ImportOptions) (state.ImportResult, error)
	// Metrics renders Prometheus text.
	Metrics(ctx context.Context) ([]byte, error)
	// Schemes lists every scheme with channels or settings.
	Schemes(ctx context.Context) ([]scheme.Listing, error)
	// Scheme shows one scheme.
	Scheme(ctx context.Context, name string) (scheme.Listing, error)
	// PutScheme sets one scheme's settings.
	PutScheme(ctx context.Context, name string, s scheme.Settings) (scheme.Listing, error)
	// PutSchemes replaces every scheme's settings.
	PutSchemes(ctx context.Context, all map[string]scheme.Settings) ([]scheme.Listing, error)
	// ListKeys lists the client keys, masked, with usage and limits.
	ListKeys(ctx context.Context) ([]keys.View, error)
	// GetKey shows one client key.
	GetKey(ctx context.Context, id string) (keys.View, error)
	// CreateKey makes a client key; the answer holds its secret, once.
	CreateKey(ctx context.Context, p keys.Patch) (keys.Created, error)
	// UpdateKey changes the fields p holds.
	UpdateKey(ctx context.Context, id string, p keys.Patch) (keys.View, error)
	// DeleteKey removes a client key.
	DeleteKey(ctx context.Context, id string) error
	// RotateKey gives a client key a new secret, shown once.
	RotateKey(ctx context.Context, id string) (keys.Created, error)
}

// Options configure a Server.
type Options struct {
	// AdminKey guards /admin and /v1.
	AdminKey string
	// BodyLimit is the largest request body accepted, in bytes.
	BodyLimit int64
	// MetricsPublic serves /metrics without the admin key.
	MetricsPublic bool
	// Version is reported by /healthz.
	Version string
	// UI is the admin page's files, served at /; nil serves none.
	UI fs.FS
	// Log receives a line for every failed sign-in. Nil: none.
	Log *slog.Logger
	// Keys authenticates client keys on /v1. Nil: ADMIN_KEY only.
	Keys Authenticator
	// ClientKeysOnly makes /v1 refuse ADMIN_KEY (CLIENT_KEYS_ONLY).
	ClientKeysOnly bool
}

// Authenticator finds the client key a token is (engine/keys).
type Authenticator interface {
	Authenticate(token string, now time.Time) (keys.Caller, error)
}

// Server routes requests to the engine.
type Server struct {
	opts     Options
	keySum   [32]byte
	proxy    Proxy
	admin    Admin
	mux      *http.ServeMux
	maxAdmin int64
}

// New returns the HTTP handler for Catfish.
func New(opts Options, proxy Proxy, admin Admin) *Server {
	s := &Server{
		opts:     opts,
		keySum:   sha256.Sum256([]byte(opts.AdminKey)),
		proxy:    proxy,
		admin:    admin,
		mux:      http.NewServeMux(),
		maxAdmin: 64 << 20,
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("POST /v1/{path...}", s.v1(s.handleProxy))
	m.HandleFunc("GET /v1/models", s.v1(s.handleModels))
	m.HandleFunc("OPTIONS /v1/{path...}", s.preflight)
	m.HandleFunc("GET /admin/config", s.adm(s.listChannels))
	m.HandleFunc("POST /admin/config", s.adm(s.createChannel))
	m.HandleFunc("PUT /admin/config/{id}", s.adm(s.updateChannel))
	m.HandleFunc("DELETE /admin/config/{id}", s.adm(s.deleteChannel))
	m.HandleFunc("POST /admin/config/{id}/reset", s.adm(s.resetChannel))
	m.HandleFunc("POST /admin/config/{id}/test", s.adm(s.testChannel))
	m.HandleFunc("GET /admin/stats", s.adm(get(s.admin.Stats)))
	m.HandleFunc("GET /admin/requests", s.adm(get(s.admin.Requests)))
	m.HandleFunc("GET /admin/logs", s.adm(s.logs))
	m.HandleFunc("GET /admin/export", s.adm(s.export))
	m.HandleFunc("POST /admin/import", s.adm(s.importConfig))
	m.HandleFunc("GET /admin/schemes", s.adm(get(s.admin.Schemes)))
	m.HandleFunc("PUT /admin/schemes", s.adm(s.putSchemes))
	m.HandleFunc("GET /admin/schemes/{name}", s.adm(s.getScheme))
	m.HandleFunc("PUT /admin/schemes/{name}", s.adm(s.putScheme))
	m.HandleFunc("GET /admin/keys", s.adm(get(s.admin.ListKeys)))
	m.HandleFunc("POST /admin/keys", s.adm(s.createKey))
	m.HandleFunc("GET /admin/keys/{id}", s.adm(s.getKey))
	m.HandleFunc("PUT /admin/keys/{id}", s.adm(s.updateKey))
	m.HandleFunc("DELETE /admin/keys/{id}", s.adm(s.deleteKey))
	m.HandleFunc("POST /admin/keys/{id}/rotate", s.adm(s.rotateKey))
	m.HandleFunc("GET /metrics", s.metrics)
	m.HandleFunc("/v1/", s.v1(func(w http.ResponseWriter, r *http.Request, _ keys.Caller) error { return s.unrouted(w, r) }))
	m.HandleFunc("/admin/", s.adm(s.unrouted))
	if s.opts.UI != nil {
		// No method in the pattern: "GET /" would conflict with "/v1/".
		m.Handle("/", uiHandler(s.opts.UI))
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		// Every read of the body is bounded, the server's own drain of a
		// body a handler left unread included; readBody paces it.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyGrace))
	}
	s.mux.ServeHTTP(w, r)
}

// signIn checks a key in constant time and says why it fails ("" when
// it does not), in words fit for a log line: never the key. The admin
// key is compared first, then (for /v1) the client keys: the same work
// whatever the key, so a wrong, an expired and a disabled key take the
// same time and get the same answer. With apiKeyHeader an x-api-key
// header (Anthropic's way) is taken too.
func (s *Server) signIn(r *http.Request, clients, apiKeyHeader bool) (c keys.Caller, failure string) {
	token, ok := bearerToken(r)
	if !ok && apiKeyHeader {
		token = r.Header.Get("X-Api-Key")
		ok = token != ""
	}
	switch {
	case !ok && r.Header.Get("Authorization") == "" && r.Header.Get("X-Api-Key") == "":
		return c, "no key"
	case !ok:
		return c, "not a bearer token"
	}
	token = strings.TrimSpace(token)
	sum := sha256.Sum256([]byte(token))
	admin := subtle.ConstantTimeCompare(sum[:], s.keySum[:]) == 1 && s.opts.AdminKey != ""
	if admin && (!clients || !s.opts.ClientKeysOnly) {
		return keys.Caller{Name: keys.AdminName}, ""
	}
	if clients && s.opts.Keys != nil {
		if c, err := s.opts.Keys.Authenticate(token, time.Now()); err == nil {
			return c, ""
		}
	}
	if admin {
		return c, "ADMIN_KEY on /v1 with CLIENT_KEYS_ONLY"
	}
	return c, "wrong key"
}

// bearerToken returns the token of an Authorization: Bearer header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(h, "bearer ")
	}
	return token, ok
}

// routeDialect is the dialect a /v1 request's answers, errors included,
// are written in.
func routeDialect(r *http.Request) dialect.Dialect {
	return dialect.OfPath(strings.TrimPrefix(r.URL.Path, "/v1"))
}

// refuse answers a failed sign-in with 401 in dialect d and logs it:
// where from, what for and why, without the key that was tried. The
// body, unread, goes with the connection.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, failure string, d dialect.Dialect) {
	if s.opts.Log != nil {
		s.opts.Log.Warn("sign-in failed", "reason", failure, "method", stats.Clip(r.Method),
			"path", stats.Clip(r.URL.EscapedPath()), "remote", r.RemoteAddr)
	}
	dropBody(w, r)
	writeError(w, errUnauthorized, d)
}

// errUnauthorized says where the key comes from: a newcomer's first curl
// often lacks it. The same answer for every failure, so it tells an
// attacker nothing.
var errUnauthorized = &dialect.Error{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
	Message: "Incorrect API key provided. Send it as 'Authorization: Bearer <key>', where <key> is ADMIN_KEY " +
		"from the environment or .env, or else the key Catfish generated on its first start and saved in " +
		"DATA_DIR/admin_key (data/admin_key by default)."}

// v1 wraps /v1 handlers: CORS for browser clients, then the key check
// (the admin key or a client key); every error is written in the
// route's dialect.
func (s *Server) v1(h func(http.ResponseWriter, *http.Request, keys.Caller) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		d := routeDialect(r)
		c, failure := s.signIn(r, true, d == dialect.Messages)
		if failure != "" {
			s.refuse(w, r, failure, d)
			return
		}
		if err := h(w, r, c); err != nil {
			dropBody(w, r)
			writeError(w, err, d)
		}
	}
}

// adm wraps /admin handlers.
func (s *Server) adm(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if _, failure := s.signIn(r, false, false); failure != "" {
			s.refuse(w, r, failure, dialect.Chat)
			return
		}
		if err := h(w, r); err != nil {
			dropBody(w, r)
			writeError(w, err, dialect.Chat)
		}
	}
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, Anthropic-Version, Anthropic-Beta, OpenAI-Organization, OpenAI-Project, OpenAI-Beta, X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-OS, X-Stainless-Arch, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Retry-Count, X-Stainless-Timeout")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// unrouted answers a request no route takes: 405 with Allow when the path
// has routes for other methods, else 404.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) error {
	if allow := s.allowed(r); len(allow) > 0 {
		return &dialect.Error{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: "method_not_allowed",
			Message: "Method " + stats.Clip(r.Method) + " is not allowed for " + stats.Clip(r.URL.Path) + "; use " + strings.Join(allow, ", "),
			Header:  http.Header{"Allow": {strings.Join(allow, ", ")}}}
	}
	return notFound(r)
}

// routeMethods are the methods the routes use, in the order Allow lists
// them.
var routeMethods = []string{http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost, http.MethodPut}

// allowed lists the methods that some route other than a catch-all takes
// for r's path, asking the mux itself.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range routeMethods {
		probe := *r
		probe.Method = m
		if _, pattern := s.mux.Handler(&probe); pattern != "" && pattern != "/" && pattern != "/v1/" && pattern != "/admin/" {
			out = append(out, m)
		}
	}
	return out
}

func notFound(r *http.Request) error {
	return dialect.Errorf(http.StatusNotFound, "invalid_request_error", "unknown_url",
		"Unknown request URL: "+stats.Clip(r.Method)+" "+stats.Clip(r.URL.Path))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

// handleProxy reads and checks the body, then hands it to the engine.
func (s *Server) handleProxy(w http.ResponseWriter, r *http.Request, c keys.Caller) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	body, err := readBody(w, r, s.opts.BodyLimit)
	if err != nil {
		return err
	}
	info, err := dialect.ScanObject(body)
	if err != nil {
		return err
	}
	if info.DupModel {
		// Routing would follow one, an override replace one, and the
		// upstream's parser pick either: refuse rather than guess.
		return &dialect.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "duplicate_key", Param: "model",
			Message: `the body has more than one "model" member; send exactly one`}
	}
	if !info.HasModel {
		return &dialect.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "missing_model", Param: "model",
			Message: "you must provide a model parameter (a string naming a scheme)"}
	}
	path, err := upstreamPath(r)
	if err != nil {
		return err
	}
	in := &dialect.Inbound{Dialect: dialect.OfPath(path), Path: path, Query: r.URL.RawQuery, Header: r.Header, Body: body, Info: info}
	return s.proxy.Proxy(w, r, in, c)
}

func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil // many clients omit it; the body is checked anyway
	}
	mt := dialect.MediaType(ct)
	// curl -d sends x-www-form-urlencoded unless told otherwise; the body
	// is still checked as JSON, so accepting it costs nothing and spares
	// every curl user a confusing first error.
	if mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-www-form-urlencoded" {
		return nil
	}
	return &dialect.Error{Status: http.StatusUnsupportedMediaType, Type: "invalid_request_error", Code: "unsupported_media_type",
		Message: "Content-Type must be application/json, got " + strconv.Quote(ct)}
}

// upstreamPath is the part after /v1, as the client escaped it, so it is
// passed on unchanged. Dot segments are refused: they would climb out of
// the channel's base path on the upstream.
func upstreamPath(r *http.Request) (string, error) {
	for seg := range strings.SplitSeq(r.PathValue("path"), "/") {
		if seg == "." || seg == ".." {
			return "", dialect.Errorf(http.StatusBadRequest, "invalid_request_error", "invalid_path", "the request path may not contain . or .. segments")
		}
	}
	return strings.TrimPrefix(r.URL.EscapedPath(), "/v1"), nil
}

// Reading a request body is bounded, or a client could hold a connection
// (and a descriptor, and a goroutine) by sending its body a byte at a time
// (ReadHeaderTimeout covers only the headers). A body gets bodyGrace to
// start, and one more second for every bodyMinRate bytes that arrive, as
// Apache's mod_reqtimeout does: a 32 MiB body on a slow line is fine, a
// trickle is not. Past the deadline the connection ends.
const (
	bodyGrace   = 10 * time.Second
	bodyMinRate = 8 << 10 // bytes per second
)

// pacedReader pushes the connection's read deadline along as the body
// arrives.
type pacedReader struct {
	r        io.Reader
	rc       *http.ResponseController
	start    time.Time
	n        int64
	deadline time.Time
}

func (p *pacedReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if d := p.start.Add(bodyGrace + time.Duration(p.n)*time.Second/bodyMinRate); d.Sub(p.deadline) >= time.Second {
		p.deadline = d
		p.rc.SetReadDeadline(d)
	}
	return n, err
}

// readBody reads the whole body, refusing more than limit bytes. When it
// fails, the answer closes the connection: the rest of the body is never
// read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength == 0 {
		return []byte{}, nil // no body: no deadline to touch
	}
	rc := http.NewResponseController(w)
	start := time.Now()
	var rd io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if rc.SetReadDeadline(start.Add(bodyGrace)) == nil { // else no deadlines here (a test recorder)
		rd = &pacedReader{r: rd, rc: rc, start: start, deadline: start.Add(bodyGrace)}
	}
	body, err := readAllOf(r.Context(), rd, r.ContentLength, limit)
	if err != nil {
		dropBody(w, r)
		return nil, err
	}
	// Cleared: the server's background read that notices a client leaving
	// during a long stream must not time out.
	rc.SetReadDeadline(time.Time{})
	r.Body = http.NoBody // read to its end: dropBody leaves the connection be
	return body, nil
}

func readAllOf(ctx context.Context, rd io.Reader, length, limit int64) ([]byte, error) {
	tooLarge := &dialect.Error{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
		Message: "request body is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes"}
	if length > limit {
		return nil, tooLarge
	}
	var body []byte
	var err error
	if length > 0 {
		body = make([]byte, length)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return body, nil
	case errors.As(err, &mbe):
		return nil, tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Checked before the context, which a failed read cancels too.
		return nil, dialect.Errorf(http.StatusRequestTimeout, "invalid_request_error", "request_timeout",
			"the request body came too slowly: after "+bodyGrace.String()+", at least "+strconv.Itoa(bodyMinRate>>10)+" KiB/s")
	case ctx.Err() != nil:
		return nil, ctx.Err() // the client left; nobody to answer
	}
	return nil, dialect.Errorf(http.StatusBadRequest, "invalid_request_error", "bad_body", "could not read the request body: "+err.Error())
}

// dropBody makes an answer written before the request body was read to
// its end (by readBody) close the connection at once, rather than first
// read (and throw away) the rest as slowly as the client cares to send it,
// which Go's server does to reuse the connection.
func dropBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 || r.Body == http.NoBody {
		return
	}
	w.Header().Set("Connection", "close")
	// A deadline in the past: the server's last read of the body, as the
	// answer goes out, fails at once.
	http.NewResponseController(w).SetReadDeadline(time.Now())
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// handleModels lists the schemes, as models: those the caller's key may
// use.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request, c keys.Caller) error {
	names, err := s.proxy.Models(r.Context())
	if err != nil {
		return err
	}
	out := modelList{Object: "list", Data: make([]modelObject, 0, len(names))}
	for _, n := range names {
		if c.Scope.Allows(n) {
			out.Data = append(out.Data, modelObject{ID: n, Object: "model", OwnedBy: "catfish"})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) error {
	all, err := s.admin.Channels(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, all)
	return nil
}

func (s *Server) readPatch(w http.ResponseWriter, r *http.Request) (channel.Patch, error) {
	if err := checkJSONContentType(r); err != nil {
		return channel.Patch{}, err
	}
	body, err := readBody(w, r, s.maxAdmin)
	if err != nil {
		return channel.Patch{}, err
	}
	if _, err := dialect.ScanObject(body); err != nil {
		return channel.Patch{}, err
	}
	return channel.DecodePatch(body)
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readPatch(w, r)
	if err != nil {
		return err
	}
	ch, err := s.admin.CreateChannel(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch)
	return nil
}

func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readPatch(w, r)
	if err != nil {
		return err
	}
	ch, err := s.admin.UpdateChannel(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch)
	return nil
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	if err := s.admin.DeleteChannel(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// get serves a read-only admin document.
func get[T any](read func(context.Context) (T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := read(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) error {
	lines, err := s.admin.Logs(r.Context())
	if err != nil {
		return err
	}
	if lines == nil {
		lines = []string{}
	}
	writeJSON(w, http.StatusOK, lines)
	return nil
}

func (s *Server) resetChannel(w http.ResponseWriter, r *http.Request) error {
	ch, err := s.admin.ResetChannel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch)
	return nil
}

// testChannel takes an optional body {"model": "..."}.
func (s *Server) testChannel(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, 1<<20)
	if err != nil {
		return err
	}
	var in struct {
		Model string `json:"model"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if _, err := dialect.ScanObject(body); err != nil {
			return err
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return &channel.FieldError{Field: "model", Msg: "must be a string"}
		}
	}
	v, err := s.admin.TestChannel(r.Context(), r.PathValue("id"), in.Model)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	v, err := s.admin.Export(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="catfish-config.json"`)
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) importConfig(w http.ResponseWriter, r *http.Request) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	body, err := readBody(w, r, s.maxAdmin)
	if err != nil {
		return err
	}
	if !json.Valid(body) {
		_, err := dialect.ScanObject(body)
		if err == nil {
			err = dialect.Errorf(http.StatusBadRequest, "invalid_request_error", "invalid_json", "the body is not valid JSON")
		}
		return err
	}
	q := r.URL.Query()
	flag := func(name string) bool { return q.Get(name) == "true" || q.Get(name) == "1" }
	v, err := s.admin.Import(r.Context(), body, state.ImportOptions{
		DryRun: flag("dry_run"), Merge: q.Get("mode") == "merge", AllowEmpty: flag("allow_empty")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// metrics serves Prometheus text; the admin key is needed unless
// MetricsPublic is set.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if _, failure := s.signIn(r, false, false); failure != "" && !s.opts.MetricsPublic {
		s.refuse(w, r, failure, dialect.Chat)
		return
	}
	b, err := s.admin.Metrics(r.Context())
	if err != nil {
		writeError(w, err, dialect.Chat)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(b)
}

// writeJSON sends v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err, dialect.Chat)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) getScheme(w http.ResponseWriter, r *http.Request) error {
	v, err := s.admin.Scheme(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// putScheme takes {"aliases": [...]}.
func (s *Server) putScheme(w http.ResponseWriter, r *http.Request) error {
	var in scheme.Settings
	if err := s.readStrict(w, r, &in); err != nil {
		return err
	}
	v, err := s.admin.PutScheme(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// putSchemes takes {"name": {"aliases": [...]}, ...}.
func (s *Server) putSchemes(w http.ResponseWriter, r *http.Request) error {
	var in map[string]scheme.Settings
	if err := s.readStrict(w, r, &in); err != nil {
		return err
	}
	if in == nil {
		return &channel.FieldError{Field: "body", Msg: "must be an object of scheme names to {\"aliases\": [...]}"}
	}
	v, err := s.admin.PutSchemes(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// readStrict reads an admin JSON body into v: a JSON object whose every
// field v knows, case included; anything else is a 400 naming the field.
func (s *Server) readStrict(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	body, err := readBody(w, r, s.maxAdmin)
	if err != nil {
		return err
	}
	if _, err := dialect.ScanObject(body); err != nil {
		return err
	}
	return decodeStrict(body, v)
}

// decodeStrict decodes body into v, refusing unknown fields and fields
// spelled in another case (encoding/json matches names case-insensitively).
func decodeStrict(body []byte, v any) error {
	if err := exactFieldNames(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return &channel.FieldError{Field: strings.Trim(name, `"`), Msg: "is not a known field"}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &channel.FieldError{Field: te.Field, Msg: "must be " + te.Type.String()}
		}
		return &channel.FieldError{Field: "body", Msg: msg}
	}
	return nil
}
