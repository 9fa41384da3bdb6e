// Package keys holds client keys: per-app or per-person secrets that
// reach /v1 only, each scoped to some schemes, with optional per-minute
// request and token limits and a total token quota, and with usage
// counted.
//
// Concurrency: one actor (Keys) owns every key's configuration as last
// pushed by the engine, its limiter and its usage. Authentication costs no
// round trip: after every change the loop publishes an immutable table
// (secret hash → caller) that request goroutines read lock-free through
// an atomic pointer. Only a key with limits asks the loop at admission
// (one round trip); every finished request reports its usage through a
// buffered mailbox without waiting for the loop. The decisions live in
// Limiter, a plain type that takes the time as an argument.
package keys

import (
	"errors"
	"time"

	"catfish/scheme"
)

// Errors the /v1 seam branches on.
var (
	// ErrInvalidKey: no key has this secret, or it is disabled or
	// expired. The three are deliberately one error (same answer, same
	// time), so a client cannot tell a revoked key from a wrong one.
	ErrInvalidKey = errors.New("invalid client key")
	// ErrRateLimited: over the key's RPM or TPM; retry after the wait.
	ErrRateLimited = errors.New("client key rate limit reached")
	// ErrQuotaExceeded: the key's token quota is spent.
	ErrQuotaExceeded = errors.New("client key token quota spent")
	// ErrNotFound: no key has that id (admin API).
	ErrNotFound = errors.New("client key not found")
	// ErrStopped: the keys actor has stopped (the server is shutting down).
	ErrStopped = errors.New("client keys stopped")
)

// Caller is who sent a request, as Authenticate found it. Its Scope is
// shared with the published table: read it, never change it.
type Caller struct {
	ID      string       // the key's id; "" for a caller that is no client key
	Name    string       // the key's name, for statistics, logs and /metrics
	Scope   scheme.Scope // schemes the key may use, sorted; nil: every scheme
	Limited bool         // the key has a limit: Admit asks the actor

	release func(Usage, bool) // the key's report function, made when published
}

// Usage is the token usage of one finished request.
type Usage struct {
	Prompt     int64
	Completion int64
}

// Tokens is what limits count: prompt and completion tokens.
func (u Usage) Tokens() int64 { return max(u.Prompt, 0) + max(u.Completion, 0) }

// Totals is a key's usage so far, as the admin API shows it and the
// journal keeps it (absolute values: replaying a record twice is
// harmless).
type Totals struct {
	Requests         int64      `json:"requests"`
	Failures         int64      `json:"failures"`
	PromptTokens     int64      `json:"prompt_tokens"`
	CompletionTokens int64      `json:"completion_tokens"`
	LastUsed         *time.Time `json:"last_used"`
}

// Tokens is every token the key used.
func (t Totals) Tokens() int64 { return t.PromptTokens + t.CompletionTokens }

func (t Totals) clone() Totals {
	t.LastUsed = clonePtr(t.LastUsed)
	return t
}

// View is a key as the admin API lists it: its configuration, the secret
// masked, its usage and the current minute's counts.
type View struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Key        string     `json:"key"` // masked: sk-cf-…abcd
	Schemes    []string   `json:"schemes"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Expired    bool       `json:"expired"`
	Enabled    bool       `json:"enabled"`
	RPM        *int64     `json:"rpm"`
	TPM        *int64     `json:"tpm"`
	TokenQuota *int64     `json:"token_quota"`
	CreatedAt  time.Time  `json:"created_at"`
	Usage      Totals     `json:"usage"`
	Minute     *Minute    `json:"minute"` // nil: the key has no limits, nothing is counted per minute
}

// Minute is what counts against RPM and TPM right now.
type Minute struct {
	Requests int64 `json:"requests"`
	Tokens   int64 `json:"tokens"`
}

// Created is the answer to a create or a rotation: the only time the
// secret is shown. Key here is the whole secret.
type Created struct {
	View
	Key string `json:"key"`
}

// NewView shows k with its usage at now.
func NewView(k Key, usage Totals, now time.Time) View {
	k = k.Clone()
	schemes := k.Schemes
	if schemes == nil {
		schemes = []string{}
	}
	return View{
		ID: k.ID, Name: k.Name, Key: k.Masked(), Schemes: schemes, ExpiresAt: k.ExpiresAt,
		Expired: k.ExpiresAt != nil && !now.Before(*k.ExpiresAt), Enabled: k.Enabled,
		RPM: k.RPM, TPM: k.TPM, TokenQuota: k.TokenQuota, CreatedAt: k.CreatedAt,
		Usage: usage.clone(),
	}
}
