package keys

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"slices"
	"time"
)

// table is the published, immutable key table that Authenticate reads
// without a lock. Entries are sorted by the first 8 bytes of their hash
// (prefixes, kept apart for a compact search), so finding a token's
// candidate is a binary search whose number of steps depends only on
// the table's size: a wrong token costs exactly what a known one does.
type table struct {
	prefixes []uint64
	entries  []entry
	decoy    entry // what a token is compared with when there is no key: no secret hashes to all zeros
}

type entry struct {
	hash    [32]byte
	caller  Caller
	expires time.Time // zero: never
	enabled bool
}

func prefixOf(sum *[32]byte) uint64 { return binary.BigEndian.Uint64(sum[:8]) }

// newTable builds a table from entries (it takes the slice).
func newTable(entries []entry) *table {
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(prefixOf(&a.hash), prefixOf(&b.hash)), slices.Compare(a.hash[:], b.hash[:]))
	})
	t := &table{prefixes: make([]uint64, len(entries)), entries: entries}
	for i := range entries {
		t.prefixes[i] = prefixOf(&entries[i].hash)
	}
	return t
}

// find returns the entry whose prefix is the last one ≤ p: the only one
// that can match a hash with prefix p (the engine keeps prefixes unique).
// The loop runs ⌈log2 n⌉ times whatever p is.
func (t *table) find(p uint64) *entry {
	n := len(t.prefixes)
	if n == 0 {
		return &t.decoy
	}
	lo := 0
	for n > 1 {
		half := n / 2
		if t.prefixes[lo+half] <= p {
			lo += half
		}
		n -= half
	}
	return &t.entries[lo]
}

// authenticate checks token at now. Every token takes the same path:
// hash, one search, a constant-time comparison of the whole hash, then
// the enabled and expiry checks, all evaluated, combined without a
// branch until the single decision at the end.
func (t *table) authenticate(token string, now time.Time) (Caller, error) {
	// Copied to the stack: the conversion []byte(token) would allocate
	// for a secret longer than 32 bytes.
	var buf [64]byte
	sum := sha256.Sum256(append(buf[:0], token...))
	e := t.find(prefixOf(&sum))
	same := subtle.ConstantTimeCompare(e.hash[:], sum[:])
	enabled := b2i(e.enabled)
	live := b2i(e.expires.IsZero()) | b2i(now.Before(e.expires))
	if same&enabled&live == 1 {
		return e.caller, nil
	}
	return Caller{}, ErrInvalidKey
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
