package stats

import (
	"strconv"
	"unicode/utf8"
)

// MaxClientText bounds client-controlled text (a request's model, its
// path) that is kept in the recent-requests list or written to a log
// line. A client may send megabytes of it; a person reading the view
// needs the start.
const MaxClientText = 256

// Clip returns s, or when it is longer than MaxClientText bytes its
// start (cut at a character boundary) marked with how much was cut. The
// result never shares memory with a long s, so keeping it does not keep
// the whole request alive.
func Clip(s string) string {
	if len(s) <= MaxClientText {
		return s
	}
	n := MaxClientText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…[cut " + strconv.Itoa(len(s)-n) + " bytes]"
}
