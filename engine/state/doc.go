package state

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"catfish/channel"
	"catfish/engine/keys"
	"catfish/scheme"
)

// Record types: one per kind of state change. Admin changes are config
// records, made with the constructors below and applied by Doc.Apply;
// stats and breaker records come in batches from the Flusher.
const (
	RecPut      = "channel.put"     // create or replace one channel
	RecDelete   = "channel.delete"  // delete one channel
	RecReplace  = "config.replace"  // replace every channel (import)
	RecScheme   = "scheme.put"      // set one scheme's settings (aliases)
	RecSchemes  = "schemes.replace" // replace every scheme's settings
	RecBreakers = "breakers"        // breaker states of channels that changed
	RecStats    = "stats"           // a batch of statistics deltas

	RecKeyPut      = "key.put"      // create or replace one client key
	RecKeyDelete   = "key.delete"   // delete one client key
	RecKeysReplace = "keys.replace" // replace every client key (import)
	RecKeyUsage    = "keys.usage"   // usage of the client keys that changed (absolute)
	RecBatch       = "batch"        // several config records, applied as one (an import of a whole export)
)

// Change is one config record, ready to journal and apply.
type Change struct {
	Type    string
	Payload []byte
}

func change(typ string, payload any) Change {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("encode %s: %v", typ, err)) // plain structs of strings and numbers always encode
	}
	return Change{Type: typ, Payload: b}
}

// Put creates or replaces one channel.
func Put(s channel.Settings) Change { return change(RecPut, putPayload{Channel: s}) }

// Delete removes one channel.
func Delete(id string) Change { return change(RecDelete, deletePayload{ID: id}) }

// Replace replaces every channel with list, in creation order.
func Replace(list []channel.Settings) Change {
	return change(RecReplace, replacePayload{Channels: list})
}

// PutScheme sets one scheme's settings; empty settings remove them.
func PutScheme(name string, s scheme.Settings) Change {
	return change(RecScheme, schemePayload{Name: name, Settings: s})
}

// ReplaceSchemes replaces every scheme's settings with all.
func ReplaceSchemes(all map[string]scheme.Settings) Change {
	return change(RecSchemes, schemesPayload{Schemes: all})
}

// PutKey creates or replaces one client key.
func PutKey(k keys.Key) Change { return change(RecKeyPut, keyPayload{Key: k}) }

// DeleteKey removes one client key.
func DeleteKey(id string) Change { return change(RecKeyDelete, deletePayload{ID: id}) }

// ReplaceKeys replaces every client key with list.
func ReplaceKeys(list []keys.Key) Change {
	if list == nil {
		list = []keys.Key{}
	}
	return change(RecKeysReplace, keysPayload{Keys: list})
}

// Batch is one record that applies every change in cs, in order, or (on
// a crash before it is durable) none of them.
func Batch(cs ...Change) Change {
	p := batchPayload{Records: make([]batchRecord, len(cs))}
	for i, c := range cs {
		p.Records[i] = batchRecord{Type: c.Type, Payload: c.Payload}
	}
	return change(RecBatch, p)
}

// Types lists the record types c applies: its own, or a batch's.
func (c Change) Types() []string {
	if c.Type != RecBatch {
		return []string{c.Type}
	}
	var p batchPayload
	json.Unmarshal(c.Payload, &p)
	out := make([]string, len(p.Records))
	for i, r := range p.Records {
		out[i] = r.Type
	}
	return out
}

// keyPayload is the payload of RecKeyPut.
type keyPayload struct {
	Key keys.Key `json:"key"`
}

// keysPayload is the payload of RecKeysReplace.
type keysPayload struct {
	Keys []keys.Key `json:"keys"`
}

// batchPayload is the payload of RecBatch.
type batchPayload struct {
	Records []batchRecord `json:"records"`
}

type batchRecord struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// schemesPayload is the payload of RecSchemes.
type schemesPayload struct {
	Schemes map[string]scheme.Settings `json:"schemes"`
}

// schemePayload is the payload of RecScheme.
type schemePayload struct {
	Name string `json:"name"`
	scheme.Settings
}

// putPayload is the payload of recPut.
type putPayload struct {
	Channel channel.Settings `json:"channel"`
}

// deletePayload is the payload of recDelete.
type deletePayload struct {
	ID string `json:"id"`
}

// replacePayload is the payload of recReplace: channels in creation order.
type replacePayload struct {
	Channels []channel.Settings `json:"channels"`
}

// Doc is the configuration: every channel and its creation order. It is a
// plain value with no locking; the engine's admin gate serialises access.
type Doc struct {
	channels map[string]*entry
	schemes  map[string]scheme.Settings // only schemes with settings
	next     uint64                     // creation order of the next new channel
	keys     map[string]keys.Key        // client keys by id
}

type entry struct {
	s     channel.Settings
	order uint64
}

// NewDoc returns an empty configuration.
func NewDoc() *Doc {
	return &Doc{channels: map[string]*entry{}, schemes: map[string]scheme.Settings{}, keys: map[string]keys.Key{}}
}

// Apply performs one config record. Live admin changes and journal replay
// both come through here, so a replayed journal rebuilds exactly the state
// that was acknowledged. It returns the channel ids it touched.
func (d *Doc) Apply(typ string, payload []byte) ([]string, error) {
	switch typ {
	case RecKeyPut:
		var p keyPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		d.keys[p.Key.ID] = p.Key.Clone()
		return nil, nil
	case RecKeyDelete:
		var p deletePayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		delete(d.keys, p.ID)
		return nil, nil
	case RecKeysReplace:
		var p keysPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		clear(d.keys)
		for _, k := range p.Keys {
			d.keys[k.ID] = k.Clone()
		}
		return nil, nil
	case RecBatch:
		var p batchPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		var touched []string
		for i, r := range p.Records {
			if r.Type == RecBatch {
				return touched, fmt.Errorf("%s record %d: a batch inside a batch", typ, i)
			}
			t, err := d.Apply(r.Type, r.Payload)
			if err != nil {
				return touched, fmt.Errorf("%s record %d: %w", typ, i, err)
			}
			touched = append(touched, t...)
		}
		return touched, nil
	case RecScheme:
		var p schemePayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		d.putScheme(p.Name, p.Settings)
		return nil, nil
	case RecSchemes:
		var p schemesPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		clear(d.schemes)
		for name, s := range p.Schemes {
			d.putScheme(name, s)
		}
		return nil, nil
	case RecPut:
		var p putPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		d.put(p.Channel)
		return []string{p.Channel.ID}, nil
	case RecDelete:
		var p deletePayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		delete(d.channels, p.ID)
		return []string{p.ID}, nil
	case RecReplace:
		var p replacePayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", typ, err)
		}
		touched := make([]string, 0, len(d.channels)+len(p.Channels))
		for id := range d.channels {
			touched = append(touched, id)
		}
		d.channels = map[string]*entry{}
		for _, s := range p.Channels {
			d.put(s)
			touched = append(touched, s.ID)
		}
		return touched, nil
	}
	return nil, fmt.Errorf("unknown config record type %q", typ)
}

func (d *Doc) put(s channel.Settings) {
	if e, ok := d.channels[s.ID]; ok {
		if e.s.Scheme != s.Scheme {
			// Moving to another scheme puts the channel last there.
			e.order = d.next
			d.next++
		}
		e.s = s.Clone()
		return
	}
	d.channels[s.ID] = &entry{s: s.Clone(), order: d.next}
	d.next++
}

// Get returns a copy of one channel.
func (d *Doc) Get(id string) (channel.Settings, uint64, bool) {
	e, ok := d.channels[id]
	if !ok {
		return channel.Settings{}, 0, false
	}
	return e.s.Clone(), e.order, true
}

// Len is the number of channels.
func (d *Doc) Len() int { return len(d.channels) }

// All returns copies of every channel in creation order.
func (d *Doc) All() []channel.Settings {
	es := make([]*entry, 0, len(d.channels))
	for _, e := range d.channels {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.order, b.order) })
	out := make([]channel.Settings, len(es))
	for i, e := range es {
		out[i] = e.s.Clone()
	}
	return out
}

// SchemesInOrder returns every channel grouped by scheme, in creation
// order: the snapshot's layout, which replays to the same order.
func (d *Doc) SchemesInOrder() map[string][]channel.Settings {
	out := map[string][]channel.Settings{}
	for _, s := range d.All() {
		out[s.Scheme] = append(out[s.Scheme], s)
	}
	return out
}

// Schemes returns every channel grouped by scheme, each group sorted by
// priority then creation order: the original's config.json layout.
func (d *Doc) Schemes() map[string][]channel.Settings {
	out := map[string][]channel.Settings{}
	for _, s := range d.All() {
		out[s.Scheme] = append(out[s.Scheme], s)
	}
	for _, list := range out {
		slices.SortStableFunc(list, func(a, b channel.Settings) int { return cmp.Compare(a.Priority, b.Priority) })
	}
	return out
}

func (d *Doc) putScheme(name string, s scheme.Settings) {
	if len(s.Aliases) == 0 {
		delete(d.schemes, name)
		return
	}
	d.schemes[name] = scheme.Settings{Aliases: slices.Clone(s.Aliases)}
}

// Scheme returns one scheme's settings (zero when it has none).
func (d *Doc) Scheme(name string) scheme.Settings {
	s := d.schemes[name]
	return scheme.Settings{Aliases: slices.Clone(s.Aliases)}
}

// SchemeSettings returns every scheme's settings, copied.
func (d *Doc) SchemeSettings() map[string]scheme.Settings {
	out := make(map[string]scheme.Settings, len(d.schemes))
	for name := range d.schemes {
		out[name] = d.Scheme(name)
	}
	return out
}

// Aliases returns every scheme's aliases, as the router takes them.
func (d *Doc) Aliases() map[string][]string {
	out := make(map[string][]string, len(d.schemes))
	for name, s := range d.schemes {
		out[name] = slices.Clone(s.Aliases)
	}
	return out
}

// Key returns a copy of one client key.
func (d *Doc) Key(id string) (keys.Key, bool) {
	k, ok := d.keys[id]
	return k.Clone(), ok
}

// Keys returns copies of every client key, oldest first.
func (d *Doc) Keys() []keys.Key {
	out := make([]keys.Key, 0, len(d.keys))
	for _, k := range d.keys {
		out = append(out, k.Clone())
	}
	slices.SortFunc(out, func(a, b keys.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// KeyConflict checks k against the other client keys: names are unique
// (statistics count by name), and so are the first 8 bytes of the hashes
// (Authenticate's table searches by them). It returns a
// *channel.FieldError naming the field, or nil.
func (d *Doc) KeyConflict(k keys.Key) error {
	return keyConflict(k, d.keys)
}

func keyConflict(k keys.Key, others map[string]keys.Key) error {
	for id, o := range others {
		if id == k.ID {
			continue
		}
		if o.Name == k.Name {
			return &channel.FieldError{Field: "name", Msg: fmt.Sprintf("another key is named %q", k.Name)}
		}
		if o.Hash[:16] == k.Hash[:16] {
			return &channel.FieldError{Field: "hash", Msg: "another key has a secret with the same hash prefix"}
		}
	}
	return nil
}
