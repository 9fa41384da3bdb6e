package state

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"catfish/channel"
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
}

type entry struct {
	s     channel.Settings
	order uint64
}

// NewDoc returns an empty configuration.
func NewDoc() *Doc { return &Doc{channels: map[string]*entry{}, schemes: map[string]scheme.Settings{}} }

// Apply performs one config record. Live admin changes and journal replay
// both come through here, so a replayed journal rebuilds exactly the state
// that was acknowledged. It returns the channel ids it touched.
func (d *Doc) Apply(typ string, payload []byte) ([]string, error) {
	switch typ {
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
