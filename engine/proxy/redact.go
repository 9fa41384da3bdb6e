package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"catfish/channel"
)

// minRedactKey is the shortest key that redaction looks for: a shorter
// one is no secret worth keeping, and replacing it would mangle the text
// around it.
const minRedactKey = 8

// redactKey masks a channel's key in upstream text the proxy passes on or
// shows: error answers, error events, test results, headers. Some
// upstreams echo the credential they were sent ("Incorrect API key
// provided: ..."), and the proxy must not hand a channel's key to clients
// or to the admin views. Successful bodies are relayed untouched. b is
// returned as is when it holds no key.
//
// An echo may be JSON-escaped ("sk-a\/b", "\u0073\u006b-..."), so the key
// is looked for in the decoded text of every JSON string in b too; a
// string that holds it is masked and encoded again, and the bytes around
// it stay as they were. Text that is not JSON but carries such escapes is
// decoded where they stand when that reveals the key.
func redactKey(b []byte, key string) []byte {
	if len(key) < minRedactKey {
		return b
	}
	if bytes.Contains(b, []byte(key)) {
		b = bytes.ReplaceAll(b, []byte(key), []byte(channel.Mask(key)))
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	b = redactJSONStrings(b, key)
	if bytes.IndexByte(b, '\\') >= 0 {
		if plain := unescapeLoose(b); bytes.Contains(plain, []byte(key)) {
			b = bytes.ReplaceAll(plain, []byte(key), []byte(channel.Mask(key)))
		}
	}
	return b
}

func redactKeyString(s, key string) string {
	if len(key) < minRedactKey || (!strings.Contains(s, key) && strings.IndexByte(s, '\\') < 0) {
		return s
	}
	return string(redactKey([]byte(s), key))
}

// redactJSONStrings masks key inside every escaped JSON string literal
// of b. Only a literal that holds the key changes; b is returned as is
// when none does.
func redactJSONStrings(b []byte, key string) []byte {
	var out []byte
	done := 0 // b[:done] is in out already
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		j, escaped := i+1, false
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				escaped = true
				j++
			}
			j++
		}
		if j >= len(b) {
			break
		}
		if escaped {
			var s string
			if json.Unmarshal(b[i:j+1], &s) == nil {
				if !strings.Contains(s, key) && strings.IndexByte(s, '\\') >= 0 {
					// Escaped twice over ("\\u0073k-..."): still the key to a reader.
					s = string(unescapeLoose([]byte(s)))
				}
				if strings.Contains(s, key) {
					out = append(out, b[done:i]...)
					out = append(out, quoteText(strings.ReplaceAll(s, key, channel.Mask(key)))...)
					done = j + 1
				}
			}
		}
		i = j
	}
	if out == nil {
		return b
	}
	return append(out, b[done:]...)
}

// quoteText encodes s as a JSON string without HTML escaping.
func quoteText(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// unescapeLoose resolves the escapes \uXXXX (surrogate pairs included)
// and \/ wherever they stand; everything else is copied.
func unescapeLoose(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == '/' {
			out = append(out, '/')
			i++
			continue
		}
		if r, n := looseRune(b[i:]); n > 0 {
			out = utf8.AppendRune(out, r)
			i += n - 1
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// looseRune decodes a \uXXXX escape at the start of b, with its low
// surrogate when it is a high one; n is the bytes used, 0 if none.
func looseRune(b []byte) (r rune, n int) {
	hex := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex(b)
	if !ok {
		return 0, 0
	}
	if r >= 0xd800 && r < 0xdc00 {
		if lo, ok := hex(b[6:]); ok && lo >= 0xdc00 && lo < 0xe000 {
			return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), 12
		}
	}
	return r, 6
}
