package scheme

import (
	"slices"
	"strings"
)

// Scope is the set of schemes a client key may use, sorted; nil allows
// every scheme.
type Scope []string

// Allows reports whether the scope lets a key use scheme name.
func (s Scope) Allows(name string) bool {
	if s == nil {
		return true
	}
	_, ok := slices.BinarySearch(s, name)
	return ok
}

type aliasReq struct {
	table aliasTable
	reply chan struct{}
}

// alias is one pattern of one scheme; rank orders every alias by scheme
// name, then by its place in the scheme's list: the first match wins.
type alias struct {
	scheme  string
	pattern string
	rank    int
}

// aliasTable finds the scheme an alias names. Exact aliases are found by
// map; globs are tried in rank order, and only beat an exact alias of a
// lower rank.
type aliasTable struct {
	exact map[string]alias
	globs []alias
}

func newAliasTable(aliases map[string][]string) aliasTable {
	t := aliasTable{exact: map[string]alias{}}
	names := make([]string, 0, len(aliases))
	for name := range aliases {
		names = append(names, name)
	}
	slices.Sort(names)
	rank := 0
	for _, name := range names {
		for _, p := range aliases[name] {
			a := alias{scheme: name, pattern: p, rank: rank}
			rank++
			if strings.Contains(p, "*") {
				t.globs = append(t.globs, a)
			} else if _, dup := t.exact[p]; !dup {
				t.exact[p] = a
			}
		}
	}
	return t
}

// match returns the scheme whose alias matches model first, among the
// schemes that exist; "" if none does.
func (t *aliasTable) match(model string, exists map[string]*schemeState) string {
	best, found := alias{rank: -1}, false
	if a, ok := t.exact[model]; ok {
		if _, live := exists[a.scheme]; live {
			best, found = a, true
		}
	}
	for _, g := range t.globs {
		if found && g.rank > best.rank {
			break
		}
		if _, live := exists[g.scheme]; live && Glob(g.pattern, model) {
			return g.scheme
		}
	}
	if found {
		return best.scheme
	}
	return ""
}

// Glob reports whether name matches pattern, where '*' stands for any
// run of characters (none included) and every other character for
// itself.
func Glob(pattern, name string) bool {
	// Iterative matching with one backtrack point: linear in practice,
	// never exponential.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
