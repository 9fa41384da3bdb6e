package keys

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"catfish/channel"
)

// Patch is a create or update body: a field left out keeps its value, a
// field sent as null clears it (for the nullable ones). The admin API
// decodes it strictly (unknown or mis-cased names are refused); the values
// are read by ApplyPatch, which names the field of any error.
type Patch struct {
	Name       Opt `json:"name"`
	Schemes    Opt `json:"schemes"`
	ExpiresAt  Opt `json:"expires_at"`
	Enabled    Opt `json:"enabled"`
	RPM        Opt `json:"rpm"`
	TPM        Opt `json:"tpm"`
	TokenQuota Opt `json:"token_quota"`
}

// Opt is one field of a Patch as it came: nil when absent, else its raw
// JSON (null included).
type Opt []byte

// UnmarshalJSON keeps the raw value; encoding/json calls it for null too.
func (o *Opt) UnmarshalJSON(b []byte) error {
	*o = append(Opt{}, b...)
	return nil
}

func (o Opt) null() bool { return string(o) == "null" }

// NewKey builds a key for create from p, holding secret's hash: name is
// required; enabled defaults to true, schemes to every scheme, limits to
// none.
func NewKey(id, secret string, p Patch, now time.Time) (Key, error) {
	if p.Name == nil {
		return Key{}, &channel.FieldError{Field: "name", Msg: "is required"}
	}
	k := Key{ID: id, Enabled: true, CreatedAt: now.UTC().Round(0)}.WithSecret(secret)
	if err := k.apply(p); err != nil {
		return Key{}, err
	}
	return k, nil
}

// ApplyPatch returns k changed by the fields p holds.
func ApplyPatch(k Key, p Patch) (Key, error) {
	k = k.Clone()
	if err := k.apply(p); err != nil {
		return Key{}, err
	}
	return k, nil
}

func (k *Key) apply(p Patch) error {
	if p.Name != nil {
		if err := decode("name", p.Name, &k.Name, "a string"); err != nil {
			return err
		}
	}
	if p.Enabled != nil {
		if err := decode("enabled", p.Enabled, &k.Enabled, "true or false"); err != nil {
			return err
		}
	}
	if p.Schemes != nil {
		var list []string
		if !p.Schemes.null() {
			if err := decode("schemes", p.Schemes, &list, "a list of scheme names"); err != nil {
				return err
			}
		}
		if err := setSchemes(k, list); err != nil {
			return err
		}
	}
	if p.ExpiresAt != nil {
		k.ExpiresAt = nil
		if !p.ExpiresAt.null() {
			var s string
			if err := decode("expires_at", p.ExpiresAt, &s, "an RFC 3339 time or null"); err != nil {
				return err
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return &channel.FieldError{Field: "expires_at", Msg: "must be an RFC 3339 time (2025-12-31T23:59:59Z) or null"}
			}
			t = t.UTC()
			k.ExpiresAt = &t
		}
	}
	for _, f := range []struct {
		name string
		raw  Opt
		dst  **int64
	}{{"rpm", p.RPM, &k.RPM}, {"tpm", p.TPM, &k.TPM}, {"token_quota", p.TokenQuota, &k.TokenQuota}} {
		if f.raw == nil {
			continue
		}
		*f.dst = nil
		if f.raw.null() {
			continue
		}
		var v int64
		if err := decode(f.name, f.raw, &v, "an integer or null"); err != nil {
			return err
		}
		*f.dst = &v
	}
	if k.Schemes == nil {
		k.Schemes = []string{}
	}
	return k.Validate()
}

// setSchemes stores list sorted; a name listed twice is refused, so a
// typo'd duplicate does not pass unnoticed.
func setSchemes(k *Key, list []string) error {
	sorted := slices.Clone(list)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return &channel.FieldError{Field: "schemes", Msg: fmt.Sprintf("%q is listed twice", sorted[i])}
		}
	}
	if sorted == nil {
		sorted = []string{}
	}
	k.Schemes = sorted
	return nil
}

func decode(field string, raw Opt, v any, want string) error {
	if raw.null() {
		return &channel.FieldError{Field: field, Msg: "must not be null"}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &channel.FieldError{Field: field, Msg: "must be " + want}
	}
	return nil
}

// Fields names the fields p holds, for logs.
func (p Patch) Fields() []string {
	var out []string
	for _, f := range []struct {
		name string
		raw  Opt
	}{{"name", p.Name}, {"schemes", p.Schemes}, {"expires_at", p.ExpiresAt}, {"enabled", p.Enabled},
		{"rpm", p.RPM}, {"tpm", p.TPM}, {"token_quota", p.TokenQuota}} {
		if f.raw != nil {
			out = append(out, f.name)
		}
	}
	return out
}
