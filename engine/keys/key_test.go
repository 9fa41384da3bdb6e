package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"catfish/channel"
)

func TestNewSecret(t *testing.T) {
	re := regexp.MustCompile(`^sk-cf-[0-9A-Za-z]{32}$`)
	seen := map[string]bool{}
	counts := map[byte]int{}
	for range 2000 {
		s := NewSecret()
		if !re.MatchString(s) {
			t.Fatalf("secret %q does not look like sk-cf- and 32 base62 characters", s)
		}
		if seen[s] {
			t.Fatalf("secret %q came twice", s)
		}
		seen[s] = true
		for i := len(SecretPrefix); i < len(s); i++ {
			counts[s[i]]++
		}
	}
	// 64,000 characters over 62 symbols: about 1032 each. A modulo bias
	// (256 % 62 = 8 favoured symbols) would put those near 1240.
	for c, n := range counts {
		if n < 850 || n > 1220 {
			t.Errorf("symbol %q drawn %d times of 64000: not uniform", c, n)
		}
	}
	if len(counts) != 62 {
		t.Errorf("%d distinct symbols, want 62", len(counts))
	}
}

func TestWithSecretMaskAndHash(t *testing.T) {
	const secret = "sk-cf-0123456789abcdefghijABCDEFGHIJwxyz"
	k := Key{ID: "k1"}.WithSecret(secret)
	sum := sha256.Sum256([]byte(secret))
	if k.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("hash %q is not the secret's hex SHA-256", k.Hash)
	}
	if k.Sum() != sum {
		t.Errorf("Sum does not decode the hash")
	}
	if got := k.Masked(); got != "sk-cf-…wxyz" {
		t.Errorf("masked: got %q, want sk-cf-…wxyz", got)
	}
}

// patch decodes a JSON body as the admin API does (names checked there).
func patch(t *testing.T, body string) Patch {
	t.Helper()
	var p Patch
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return p
}

func TestNewKeyAndApplyPatch(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 500, time.UTC)
	k, err := NewKey("id-1", NewSecret(), patch(t, `{"name":"app"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Enabled || k.Schemes == nil || len(k.Schemes) != 0 || k.RPM != nil || k.ExpiresAt != nil || !k.CreatedAt.Equal(now) {
		t.Fatalf("defaults: got %+v", k)
	}
	if k.Scope() != nil {
		t.Errorf("no schemes: got scope %v, want nil (every scheme)", k.Scope())
	}
	k, err = ApplyPatch(k, patch(t, `{"schemes":["b","a"],"rpm":10,"tpm":1000,"token_quota":5000,"expires_at":"2026-01-01T08:00:00+08:00","enabled":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(k.Schemes, ",") != "a,b" || *k.RPM != 10 || *k.TPM != 1000 || *k.TokenQuota != 5000 || k.Enabled {
		t.Fatalf("after patch: %+v", k)
	}
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !k.ExpiresAt.Equal(want) || k.ExpiresAt.Location() != time.UTC {
		t.Errorf("expires_at: got %v, want %v in UTC", k.ExpiresAt, want)
	}
	if l := k.Limits(); l != (Limits{RPM: 10, TPM: 1000, Quota: 5000}) {
		t.Errorf("limits: %+v", l)
	}
	// Omitted fields stay; null clears.
	k2, err := ApplyPatch(k, patch(t, `{"rpm":null,"expires_at":null,"schemes":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if k2.RPM != nil || k2.ExpiresAt != nil || len(k2.Schemes) != 0 || *k2.TPM != 1000 || k2.Name != "app" {
		t.Errorf("after clearing: %+v", k2)
	}
	if k.RPM == nil || k.ExpiresAt == nil {
		t.Errorf("ApplyPatch changed its input")
	}
}

func TestPatchErrorsNameTheField(t *testing.T) {
	base, err := NewKey("id-1", NewSecret(), patch(t, `{"name":"app"}`), t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ body, field string }{
		{`{"name":""}`, "name"},
		{`{"name":" padded"}`, "name"},
		{`{"name":null}`, "name"},
		{`{"name":42}`, "name"},
		{`{"name":"admin"}`, "name"},
		{`{"name":"Admin"}`, "name"},
		{`{"name":"` + strings.Repeat("x", 101) + `"}`, "name"},
		{`{"name":"tab\there"}`, "name"},
		{`{"schemes":"main"}`, "schemes"},
		{`{"schemes":["a","a"]}`, "schemes"},
		{`{"schemes":[""]}`, "schemes[0]"},
		{`{"expires_at":"tomorrow"}`, "expires_at"},
		{`{"expires_at":1735689600}`, "expires_at"},
		{`{"enabled":"yes"}`, "enabled"},
		{`{"enabled":null}`, "enabled"},
		{`{"rpm":0}`, "rpm"},
		{`{"rpm":-1}`, "rpm"},
		{`{"rpm":1.5}`, "rpm"},
		{`{"tpm":"100"}`, "tpm"},
		{`{"token_quota":1e20}`, "token_quota"},
	} {
		_, err := ApplyPatch(base, patch(t, c.body))
		var fe *channel.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want a field error on %s", c.body, err, c.field)
		}
	}
	if _, err := NewKey("id", NewSecret(), patch(t, `{"rpm":5}`), t0); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("create without a name: got %v", err)
	}
}

func TestValidateImportedKey(t *testing.T) {
	good := Key{ID: "k-1", Name: "app", Hash: strings.Repeat("ab", 32), Last4: "wxyz", Schemes: []string{"a", "b"}, Enabled: true}
	if err := good.Validate(); err != nil {
		t.Fatalf("good key: %v", err)
	}
	for field, mod := range map[string]func(*Key){
		"id":         func(k *Key) { k.ID = "../etc" },
		"hash":       func(k *Key) { k.Hash = strings.Repeat("AB", 32) },
		"last4":      func(k *Key) { k.Last4 = "…xyz" },
		"schemes[1]": func(k *Key) { k.Schemes = []string{"b", "a"} },
	} {
		k := good.Clone()
		mod(&k)
		var fe *channel.FieldError
		if err := k.Validate(); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}
