package proxy

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"catfish/engine/dialect"
)

func TestHops(t *testing.T) {
	p := &Proxy{cfg: Config{Instance: "self0001"}}
	many := strings.TrimSuffix(strings.Repeat("a1, ", maxHops), ", ")
	for _, tc := range []struct {
		name string
		in   []string
		want string
		loop bool
	}{
		{"first hop", nil, "self0001", false},
		{"after two others", []string{"x1, y2"}, "x1, y2, self0001", false},
		{"two header lines", []string{"x1", "y2"}, "x1, y2, self0001", false},
		{"back here", []string{"x1, self0001"}, "", true},
		{"back here, spaced", []string{" self0001 "}, "", true},
		{"malformed ids dropped", []string{"x1, <script>, , " + strings.Repeat("z", 65)}, "x1, self0001", false},
		{"too long a chain", []string{many}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.in {
				h.Add(HopHeader, v)
			}
			got, err := p.hops(h)
			if tc.loop {
				var de *dialect.Error
				if !errors.As(err, &de) || de.Status != http.StatusLoopDetected || de.Code != "loop_detected" {
					t.Errorf("hops(%q) = %q, %v; want a 508 loop_detected", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("hops(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}
