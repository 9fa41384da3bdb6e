package scheme

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"catfish/channel"
)

// Settings is what an admin sets on a scheme itself, beside its channels:
// the other model names that select it.
type Settings struct {
	// Aliases are exact model names or '*' globs ("claude-*-haiku-*")
	// that also select the scheme. Agents send their own model names;
	// an alias routes them without changing the client.
	Aliases []string `json:"aliases"`
}

// ErrNotFound is returned for a scheme that has neither channels nor
// settings.
var ErrNotFound = errors.New("scheme not found")

// Limits on aliases: generous for people, small for a hostile document.
const (
	maxAliases   = 64
	maxAliasLen  = 128
	maxSchemeLen = 128
)

// Validate checks a scheme's settings.
func (s Settings) Validate() error {
	if len(s.Aliases) > maxAliases {
		return &channel.FieldError{Field: "aliases", Msg: fmt.Sprintf("may hold at most %d aliases", maxAliases)}
	}
	for i, a := range s.Aliases {
		if strings.TrimSpace(a) != a || a == "" || len(a) > maxAliasLen || !printable(a) {
			return &channel.FieldError{Field: fmt.Sprintf("aliases[%d]", i),
				Msg: fmt.Sprintf("must be a model name or * glob: printable, no surrounding spaces, 1 to %d bytes", maxAliasLen)}
		}
		if slices.Contains(s.Aliases[:i], a) {
			return &channel.FieldError{Field: fmt.Sprintf("aliases[%d]", i), Msg: fmt.Sprintf("%q is listed twice", a)}
		}
	}
	return nil
}

// ValidateName checks a scheme name as a path or map key gives it.
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > maxSchemeLen || !printable(name) {
		return &channel.FieldError{Field: "name", Msg: fmt.Sprintf("a scheme name is printable text of 1 to %d bytes", maxSchemeLen)}
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

// Listing is a scheme as the admin API shows it.
type Listing struct {
	Name     string   `json:"name"`
	Aliases  []string `json:"aliases"`
	Channels int      `json:"channels"` // 0: the scheme only has settings, and routes nothing
}
