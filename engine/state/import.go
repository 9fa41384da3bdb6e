package state

import (
	"fmt"
	"slices"

	"catfish/channel"
)

// ImportResult reports what an import did (or, dry, would do).
type ImportResult struct {
	DryRun   bool     `json:"dry_run"`
	Mode     string   `json:"mode"`
	Channels int      `json:"channels"`
	Schemes  []string `json:"schemes"`
	Added    int      `json:"added"`
	Updated  int      `json:"updated"`
	Removed  int      `json:"removed"`
	// Keys: what a versioned export does to the client keys; nil when
	// the document has none and they stay as they are.
	Keys *KeyImport `json:"keys,omitempty"`
}

// ImportOptions say how to import.
type ImportOptions struct {
	DryRun bool // only check and report
	Merge  bool // add and update by id, keep the rest; else replace everything
	// AllowEmpty lets an import remove every channel. Without it, a
	// document with no channel (null, [], {}) that would do so is refused:
	// that is far more often a mistake than a wish.
	AllowEmpty bool
}

// Import is a checked import, ready to commit.
type Import struct {
	Result  ImportResult
	Change  Change   // the Replace record that performs it
	Removed []string // ids of channels it deletes
}

// PlanImport works out the import of incoming (as ParseOriginalConfig
// returns it) over d: with opt.Merge, channels are added and updated by
// id and the rest kept; without, incoming replaces everything. A masked
// key (as GET shows) keeps the stored key of the channel with that id. It
// changes nothing; one bad channel rejects the whole import, and so does
// removing every channel without opt.AllowEmpty.
func PlanImport(d *Doc, incoming []channel.Settings, opt ImportOptions) (Import, error) {
	merge := opt.Merge
	res := ImportResult{Mode: "replace", Channels: len(incoming)}
	if merge {
		res.Mode = "merge"
	}
	final := map[string]channel.Settings{}
	var order []string
	if merge {
		for _, s := range d.All() {
			final[s.ID] = s
			order = append(order, s.ID)
		}
	}
	for i, s := range incoming {
		old, _, exists := d.Get(s.ID)
		if channel.IsMasked(s.APIKey, old.APIKey) {
			if !exists {
				return Import{}, &channel.FieldError{Field: "api_key",
					Msg: fmt.Sprintf("channel %d (id %s) has a masked key and no stored channel to take it from", i, s.ID)}
			}
			s.APIKey = old.APIKey
		}
		if exists {
			res.Updated++
		} else {
			res.Added++
		}
		if _, ok := final[s.ID]; !ok {
			order = append(order, s.ID)
		}
		final[s.ID] = s
	}
	removed := []string{}
	for _, s := range d.All() {
		if _, ok := final[s.ID]; !ok {
			removed = append(removed, s.ID)
		}
	}
	res.Removed = len(removed)
	if len(incoming) == 0 && len(removed) > 0 && !opt.AllowEmpty {
		return Import{}, &channel.FieldError{Field: "body", Msg: fmt.Sprintf(
			"the document holds no channel: importing it would remove all %d; send ?allow_empty=true if that is what you want", len(removed))}
	}
	list := make([]channel.Settings, 0, len(order))
	schemes := map[string]bool{}
	for _, id := range order {
		list = append(list, final[id])
		schemes[final[id].Scheme] = true
	}
	for name := range schemes {
		res.Schemes = append(res.Schemes, name)
	}
	slices.Sort(res.Schemes)
	return Import{Result: res, Change: Replace(list), Removed: removed}, nil
}
