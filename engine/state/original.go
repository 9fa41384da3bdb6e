package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"

	"catfish/channel"
	"catfish/engine/stats"
)

// importOriginal reads catfishAPIAgg's data/config.json (a scheme map, or
// the legacy top-level array meaning scheme "default") and stats.json from
// dir. It returns the names of the files it used, or an error naming the
// file and channel that cannot be imported: nothing is dropped silently.
func importOriginal(dir string, r *Recovered, loc *time.Location) (string, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	channels, err := ParseOriginalConfig(b)
	if err != nil {
		return "", fmt.Errorf("import %s: %w", path, err)
	}
	for _, ch := range channels {
		r.Doc.put(ch)
	}
	used := path
	spath := filepath.Join(dir, "stats.json")
	if sb, err := os.ReadFile(spath); err == nil {
		if err := importOriginalStats(sb, r, loc); err != nil {
			return "", fmt.Errorf("import %s: %w (move it away to import the channels without statistics)", spath, err)
		}
		used += ", " + spath
	}
	return used, nil
}

// ParseOriginalConfig decodes and checks a config document of the
// original's shape: a scheme map {"name": [channels]}, or the legacy list
// of channels (scheme "default"); null is no channel at all. Channels keep
// their ids, which must be safe (channel.ValidID); missing ids get new
// ones. Channel fields are read strictly (channel.DecodeSettings). A
// rejected channel's error is a *channel.FieldError naming the field.
func ParseOriginalConfig(b []byte) ([]channel.Settings, error) {
	schemes, err := splitSchemes(b)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(schemes))
	for n := range schemes {
		names = append(names, n)
	}
	slices.Sort(names)
	seen := map[string]bool{}
	var out []channel.Settings
	for _, name := range names {
		for i, raw := range schemes[name] {
			ch, err := channel.DecodeSettings(raw)
			if err != nil {
				return nil, inChannel(name, i, "", err)
			}
			ch.Scheme = name
			if ch.ID == "" {
				ch.ID = uuid.NewString()
			}
			if !channel.ValidID(ch.ID) {
				return nil, inChannel(name, i, "", &channel.FieldError{Field: "id",
					Msg: fmt.Sprintf("must be 1 to %d letters, digits, '-' or '_' (a uuid, as Catfish makes them)", channel.MaxIDLen)})
			}
			if seen[ch.ID] {
				return nil, inChannel(name, i, "", fmt.Errorf("id %s appears twice", ch.ID))
			}
			seen[ch.ID] = true
			if err := ch.Validate(); err != nil {
				return nil, inChannel(name, i, ch.ID, err)
			}
			out = append(out, ch)
		}
	}
	return out, nil
}

// splitSchemes splits a config document into its schemes' channels, each
// still undecoded.
func splitSchemes(b []byte) (map[string][]json.RawMessage, error) {
	const want = `want a scheme map {"name": [channels]} or a list of channels`
	doc := bytes.TrimSpace(b)
	switch {
	case string(doc) == "null":
		return nil, nil
	case len(doc) > 0 && doc[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(doc, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", want, err)
		}
		return map[string][]json.RawMessage{channel.DefaultScheme: list}, nil
	case len(doc) > 0 && doc[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", want, err)
		}
		out := make(map[string][]json.RawMessage, len(m))
		for name, v := range m {
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, fmt.Errorf("scheme %q: want a list of channels", name)
			}
			out[name] = list
		}
		return out, nil
	}
	return nil, errors.New(want)
}

// inChannel says which channel err is about (its id when known and
// safe), keeping a field error's field.
func inChannel(scheme string, i int, id string, err error) error {
	where := fmt.Sprintf("scheme %q, channel %d", stats.Clip(scheme), i)
	if id != "" {
		where += ", id " + id
	}
	var fe *channel.FieldError
	if errors.As(err, &fe) {
		return &channel.FieldError{Field: fe.Field, Msg: fe.Msg + " (" + where + ")"}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// originalStats is catfishAPIAgg's stats.json.
type originalStats struct {
	Total      stats.Counts `json:"total"`
	Today      stats.Today  `json:"today"`
	ByConfigID map[string]struct {
		stats.Counts
		ConsecutiveFails int    `json:"consecutive_fails"`
		DisabledUntil    string `json:"disabled_until"`
	} `json:"by_config_id"`
}

// importOriginalStats folds the original's stats.json into r: request
// totals, today's counts, per-channel attempt counts, and each channel's
// failure streak and disabled_until as its breaker state.
func importOriginalStats(b []byte, r *Recovered, loc *time.Location) error {
	var o originalStats
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	d := &stats.Doc{Total: &o.Total, Channels: map[string]*stats.ChannelStats{}}
	if o.Today.Date != "" {
		d.Today = &stats.Today{Date: o.Today.Date, Counts: o.Today.Counts, ByChannel: map[string]*stats.Counts{}}
		for id, c := range o.Today.ByChannel {
			if c != nil {
				d.Today.ByChannel[id] = c
			}
		}
	}
	for id, c := range o.ByConfigID {
		if _, _, ok := r.Doc.Get(id); !ok {
			continue // the original kept counts of deleted channels too
		}
		d.Channels[id] = &stats.ChannelStats{Counts: c.Counts}
		br := BreakerRec{State: "closed", Fails: c.ConsecutiveFails}
		if c.DisabledUntil != "" {
			until, err := parseOriginalTime(c.DisabledUntil, loc)
			if err != nil {
				return fmt.Errorf("channel %s: disabled_until %q: %w", id, c.DisabledUntil, err)
			}
			if until.After(time.Now()) {
				br.State, br.OpenUntil = "open", &until
			}
		}
		r.Breakers[id] = br
	}
	r.Stats.Merge(d)
	return nil
}

// parseOriginalTime reads Python's datetime.isoformat(): local time, with
// or without fractional seconds, or with an offset.
func parseOriginalTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", s, loc)
}
