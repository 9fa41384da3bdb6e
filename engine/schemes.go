package engine

import (
	"context"
	"errors"
	"slices"
	"strings"

	"catfish/channel"
	"catfish/engine/state"
	"catfish/scheme"
)

// Schemes lists every scheme that has channels or settings, by name.
func (e *Engine) Schemes(ctx context.Context) ([]scheme.Listing, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	return e.schemesLocked(), nil
}

func (e *Engine) schemesLocked() []scheme.Listing {
	counts := map[string]int{}
	for _, s := range e.doc.All() {
		counts[s.Scheme]++
	}
	settings := e.doc.SchemeSettings()
	for name := range settings {
		if _, ok := counts[name]; !ok {
			counts[name] = 0
		}
	}
	out := make([]scheme.Listing, 0, len(counts))
	for name, n := range counts {
		aliases := settings[name].Aliases
		if aliases == nil {
			aliases = []string{}
		}
		out = append(out, scheme.Listing{Name: name, Aliases: aliases, Channels: n})
	}
	slices.SortFunc(out, func(a, b scheme.Listing) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Scheme shows one scheme; unknown names are not found.
func (e *Engine) Scheme(ctx context.Context, name string) (scheme.Listing, error) {
	views, err := e.Schemes(ctx)
	if err != nil {
		return scheme.Listing{}, err
	}
	for _, v := range views {
		if v.Name == name {
			return v, nil
		}
	}
	return scheme.Listing{}, scheme.ErrNotFound
}

// PutScheme sets one scheme's settings. A scheme without channels may
// carry settings: they apply once it has channels.
func (e *Engine) PutScheme(ctx context.Context, name string, s scheme.Settings) (scheme.Listing, error) {
	if err := scheme.ValidateName(name); err != nil {
		return scheme.Listing{}, err
	}
	if err := s.Validate(); err != nil {
		return scheme.Listing{}, err
	}
	if err := e.lock(ctx); err != nil {
		return scheme.Listing{}, err
	}
	defer e.unlock()
	if err := e.commit(ctx, state.PutScheme(name, s)); err != nil {
		return scheme.Listing{}, err
	}
	e.log.Info("scheme settings changed", "scheme", name, "aliases", len(s.Aliases))
	for _, v := range e.schemesLocked() {
		if v.Name == name {
			return v, nil
		}
	}
	return scheme.Listing{Name: name, Aliases: []string{}}, nil
}

// PutSchemes replaces every scheme's settings with all: schemes it does
// not name lose theirs. The whole document is checked before anything
// changes.
func (e *Engine) PutSchemes(ctx context.Context, all map[string]scheme.Settings) ([]scheme.Listing, error) {
	for name, s := range all {
		if err := scheme.ValidateName(name); err != nil {
			return nil, err
		}
		if err := s.Validate(); err != nil {
			var fe *channel.FieldError
			if errors.As(err, &fe) {
				return nil, &channel.FieldError{Field: name + "." + fe.Field, Msg: fe.Msg}
			}
			return nil, err
		}
	}
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	if err := e.commit(ctx, state.ReplaceSchemes(all)); err != nil {
		return nil, err
	}
	e.log.Info("scheme settings replaced", "schemes", len(all))
	return e.schemesLocked(), nil
}
