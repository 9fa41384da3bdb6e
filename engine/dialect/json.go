package dialect

import (
	"math/rand/v2"
	"unicode/utf8"
)

// Small writers for the JSON the codecs emit on the stream path, where
// encoding/json's reflection would cost more than the event itself.

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string: quoted, with the characters
// JSON requires escaped, invalid UTF-8 replaced by U+FFFD, and U+2028 and
// U+2029 escaped as encoding/json does (so the output is also valid
// JavaScript). HTML characters are left alone.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// NewID returns prefix followed by 24 random lowercase hex digits: ids
// for answers Catfish writes itself (msg_, resp_, chatcmpl-, call_, ...).
// They need to be unique, not secret.
func NewID(prefix string) string {
	b := make([]byte, len(prefix)+24)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i += 16 {
		v := rand.Uint64()
		for j := i; j < len(b) && j < i+16; j++ {
			b[j] = hexDigits[v&15]
			v >>= 4
		}
	}
	return string(b)
}
