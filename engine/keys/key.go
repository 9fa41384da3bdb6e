package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"catfish/channel"
	"catfish/scheme"
)

// SecretPrefix starts every client key's secret.
const SecretPrefix = "sk-cf-"

// secretLen is the number of random base62 characters after the prefix:
// 32 of them carry 190 bits.
const secretLen = 32

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Limits on input: generous for people, small for a hostile document.
const (
	maxNameLen = 100
	maxSchemes = 256
	maxLimit   = 1_000_000_000_000_000 // 10^15: any real limit fits
)

// Key is one client key's configuration as it is journaled, snapshotted
// and exported: never its secret, only the secret's SHA-256 and its last
// four characters (for the masked form people recognise).
type Key struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Hash       string     `json:"hash"`        // hex SHA-256 of the secret
	Last4      string     `json:"last4"`       // the secret's last 4 characters
	Schemes    []string   `json:"schemes"`     // sorted; empty: every scheme
	ExpiresAt  *time.Time `json:"expires_at"`  // nil: never
	Enabled    bool       `json:"enabled"`     // manual switch
	RPM        *int64     `json:"rpm"`         // requests per minute; nil: no limit
	TPM        *int64     `json:"tpm"`         // tokens per minute; nil: no limit
	TokenQuota *int64     `json:"token_quota"` // tokens in total; nil: no limit
	CreatedAt  time.Time  `json:"created_at"`
}

// Clone returns a deep copy.
func (k Key) Clone() Key {
	k.Schemes = slices.Clone(k.Schemes)
	k.ExpiresAt = clonePtr(k.ExpiresAt)
	k.RPM, k.TPM, k.TokenQuota = clonePtr(k.RPM), clonePtr(k.TPM), clonePtr(k.TokenQuota)
	return k
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Scope is the key's schemes as the router takes them: nil (every
// scheme) when the key names none.
func (k Key) Scope() scheme.Scope {
	if len(k.Schemes) == 0 {
		return nil
	}
	s := slices.Clone(k.Schemes)
	slices.Sort(s)
	return scheme.Scope(s)
}

// Limits returns the key's limits, 0 meaning none.
func (k Key) Limits() Limits {
	v := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return Limits{RPM: v(k.RPM), TPM: v(k.TPM), Quota: v(k.TokenQuota)}
}

// Masked is the key as lists show it: sk-cf-…abcd.
func (k Key) Masked() string { return SecretPrefix + "…" + k.Last4 }

// Sum returns the decoded hash (zero if it is not valid hex; Validate
// refuses such keys).
func (k Key) Sum() [32]byte {
	var s [32]byte
	hex.Decode(s[:], []byte(k.Hash))
	return s
}

// NewSecret returns a fresh secret: SecretPrefix and 32 base62
// characters from crypto/rand, without modulo bias.
func NewSecret() string {
	b := make([]byte, 0, len(SecretPrefix)+secretLen)
	b = append(b, SecretPrefix...)
	var buf [64]byte
	for len(b) < cap(b) {
		rand.Read(buf[:]) // never fails (crypto/rand panics rather than return short)
		for _, c := range buf {
			// 248 = 4 × 62: bytes above it would favour the first letters.
			if c < 248 && len(b) < cap(b) {
				b = append(b, base62[c%62])
			}
		}
	}
	return string(b)
}

// HashSecret is the hex SHA-256 of a secret, as a Key stores it.
func HashSecret(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// WithSecret returns k holding secret's hash and last four characters.
func (k Key) WithSecret(secret string) Key {
	k.Hash = HashSecret(secret)
	k.Last4 = secret[len(secret)-4:]
	return k
}

var (
	hashPattern  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	last4Pattern = regexp.MustCompile(`^[0-9A-Za-z]{4}$`)
	idPattern    = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
)

// AdminName is what statistics call ADMIN_KEY; no client key may take it.
const AdminName = "admin"

// Validate checks a whole key (a create, an update's result, an import).
// Every error is a *channel.FieldError naming the field.
func (k Key) Validate() error {
	if !idPattern.MatchString(k.ID) {
		return &channel.FieldError{Field: "id", Msg: "must be 1 to 64 letters, digits, '-' or '_'"}
	}
	if err := ValidateName(k.Name); err != nil {
		return err
	}
	if !hashPattern.MatchString(k.Hash) {
		return &channel.FieldError{Field: "hash", Msg: "must be the hex SHA-256 of the secret (64 lowercase hex digits)"}
	}
	if !last4Pattern.MatchString(k.Last4) {
		return &channel.FieldError{Field: "last4", Msg: "must be the secret's last 4 characters (letters or digits)"}
	}
	if len(k.Schemes) > maxSchemes {
		return &channel.FieldError{Field: "schemes", Msg: fmt.Sprintf("may name at most %d schemes", maxSchemes)}
	}
	for i, s := range k.Schemes {
		if err := scheme.ValidateName(s); err != nil {
			return &channel.FieldError{Field: fmt.Sprintf("schemes[%d]", i), Msg: "a scheme name is printable text of 1 to 128 bytes"}
		}
		if i > 0 && k.Schemes[i-1] >= s {
			return &channel.FieldError{Field: fmt.Sprintf("schemes[%d]", i), Msg: "must be sorted and listed once"}
		}
	}
	for _, l := range []struct {
		name string
		v    *int64
	}{{"rpm", k.RPM}, {"tpm", k.TPM}, {"token_quota", k.TokenQuota}} {
		if l.v != nil && (*l.v < 1 || *l.v > maxLimit) {
			return &channel.FieldError{Field: l.name, Msg: fmt.Sprintf("must be between 1 and %d, or null for no limit", int64(maxLimit))}
		}
	}
	return nil
}

// ValidateName checks a key's name: it labels the key in statistics and
// /metrics, so it must be short printable text, and "admin" is ADMIN_KEY's.
func ValidateName(name string) error {
	if strings.TrimSpace(name) != name || name == "" || len(name) > maxNameLen || !printable(name) {
		return &channel.FieldError{Field: "name", Msg: fmt.Sprintf("must be printable text of 1 to %d bytes without surrounding spaces", maxNameLen)}
	}
	if strings.EqualFold(name, AdminName) {
		return &channel.FieldError{Field: "name", Msg: `"admin" stands for ADMIN_KEY in statistics; choose another name`}
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
