package state

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"catfish/channel"
	"catfish/engine/keys"
	"catfish/scheme"
)

// ExportVersion is the version of the export document. Version 1 was the
// bare scheme map (the original's config.json layout), which Import still
// takes.
const ExportVersion = 2

// Export is the whole configuration, as /admin/export gives it and
// /admin/import takes it back: the channels (with their upstream keys),
// the schemes' settings, and the client keys as hashes, never secrets.
type Export struct {
	Version int                           `json:"catfish_export"`
	Config  map[string][]channel.Settings `json:"config"`
	Schemes map[string]scheme.Settings    `json:"schemes"`
	Keys    []keys.Key                    `json:"keys"`
}

// Export returns the whole configuration; channels by scheme in creation
// order, client keys oldest first.
func (d *Doc) Export() Export {
	return Export{Version: ExportVersion, Config: d.SchemesInOrder(), Schemes: d.SchemeSettings(), Keys: d.Keys()}
}

// versioned is an export as Import reads it: the parts stay raw until
// asked for, and a missing part (null) is left alone by the import.
type versioned struct {
	Version json.RawMessage            `json:"catfish_export"`
	Config  json.RawMessage            `json:"config"`
	Schemes map[string]scheme.Settings `json:"schemes"`
	Keys    *[]keys.Key                `json:"keys"`
}

// Parsed is an import document split into its parts.
type Parsed struct {
	// Config is the channels part, a scheme map or a list, as
	// ParseOriginalConfig takes it.
	Config []byte
	// Schemes and Keys are nil when the document has none (a version 1
	// export, or the original's config.json): the import keeps the
	// current ones.
	Schemes map[string]scheme.Settings
	Keys    *[]keys.Key
}

// ParseImport splits an import document: a versioned export, or a bare
// scheme map or channel list (Catfish's version 1 export, or
// catfishAPIAgg's config.json), which is all channels.
func ParseImport(b []byte) (Parsed, error) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return Parsed{Config: b}, nil // a list, or not JSON: ParseOriginalConfig says
	}
	v, ok := probe["catfish_export"]
	if !ok || len(v) == 0 || v[0] == '[' {
		return Parsed{Config: b}, nil // a scheme map (one scheme may even bear that name)
	}
	var doc versioned
	if err := json.Unmarshal(b, &doc); err != nil {
		return Parsed{}, &channel.FieldError{Field: "body", Msg: "not a Catfish export: " + err.Error()}
	}
	if string(doc.Version) != "2" {
		return Parsed{}, &channel.FieldError{Field: "catfish_export", Msg: fmt.Sprintf("this server reads export version %d, not %s", ExportVersion, doc.Version)}
	}
	if len(doc.Config) == 0 || bytes.Equal(doc.Config, []byte("null")) {
		return Parsed{}, &channel.FieldError{Field: "config", Msg: "is required: an object of scheme names to channel lists"}
	}
	for name, s := range doc.Schemes {
		if err := scheme.ValidateName(name); err != nil {
			return Parsed{}, &channel.FieldError{Field: "schemes", Msg: fmt.Sprintf("%q is not a scheme name", name)}
		}
		if err := s.Validate(); err != nil {
			if fe, ok := err.(*channel.FieldError); ok {
				return Parsed{}, &channel.FieldError{Field: "schemes." + name + "." + fe.Field, Msg: fe.Msg}
			}
			return Parsed{}, err
		}
	}
	return Parsed{Config: doc.Config, Schemes: doc.Schemes, Keys: doc.Keys}, nil
}

// KeyImport reports what an import does to the client keys.
type KeyImport struct {
	Keys    int `json:"keys"`
	Added   int `json:"added"`
	Updated int `json:"updated"`
	Removed int `json:"removed"`
}

// PlanKeyImport checks incoming client keys against d: with merge they
// are added and updated by id and the rest kept; without, they replace
// every key. One bad key rejects the whole import. It changes nothing.
func PlanKeyImport(d *Doc, incoming []keys.Key, merge bool) (KeyImport, Change, error) {
	res := KeyImport{Keys: len(incoming)}
	final := map[string]keys.Key{}
	if merge {
		for id, k := range d.keys {
			final[id] = k
		}
	}
	seen := map[string]bool{}
	for i, k := range incoming {
		if err := k.Validate(); err != nil {
			return KeyImport{}, Change{}, keyErr(i, k.ID, err)
		}
		if seen[k.ID] {
			return KeyImport{}, Change{}, keyErr(i, k.ID, &channel.FieldError{Field: "id", Msg: "appears twice"})
		}
		seen[k.ID] = true
		if _, ok := d.keys[k.ID]; ok {
			res.Updated++
		} else {
			res.Added++
		}
		final[k.ID] = k
	}
	for id := range d.keys {
		if _, ok := final[id]; !ok {
			res.Removed++
		}
	}
	// Names and hash prefixes must stay unique: each key is checked
	// against the kept ones and those before it, so the error names the
	// later of two.
	checked := map[string]keys.Key{}
	for id, k := range final {
		if !seen[id] {
			checked[id] = k
		}
	}
	for i, k := range incoming {
		if err := keyConflict(k, checked); err != nil {
			return KeyImport{}, Change{}, keyErr(i, k.ID, err)
		}
		checked[k.ID] = k
	}
	list := make([]keys.Key, 0, len(final))
	for _, k := range final {
		list = append(list, k)
	}
	slices.SortFunc(list, func(a, b keys.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return res, ReplaceKeys(list), nil
}

func keyErr(i int, id string, err error) error {
	if fe, ok := err.(*channel.FieldError); ok {
		return &channel.FieldError{Field: fmt.Sprintf("keys[%d].%s", i, fe.Field), Msg: fe.Msg + " (key id " + id + ")"}
	}
	return err
}
