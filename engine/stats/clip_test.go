package stats

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	short := strings.Repeat("a", MaxClientText)
	if got := Clip(short); got != short {
		t.Errorf("Clip of %d bytes changed it", len(short))
	}
	long := strings.Repeat("a", 20<<20)
	if got, want := Clip(long), short+"…[cut 20971264 bytes]"; got != want {
		t.Errorf("Clip(20 MiB) = %.40q… (%d bytes), want %d bytes", got, len(got), len(want))
	}
	// A cut never splits a character.
	wide := strings.Repeat("é", MaxClientText) // two bytes each
	got := Clip("x" + wide)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "bytes]") || len(got) > MaxClientText+32 {
		t.Errorf("Clip of multi-byte text: %q", got)
	}
}
