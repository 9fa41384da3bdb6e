package keys

import (
	"testing"
	"time"
)

// FuzzLimiterRPM: whatever the timing of admissions, no 60 one-second
// buckets ever hold more than RPM admissions, and a refusal's wait is
// exact: an admission then succeeds, and one a millisecond earlier would
// not have.
func FuzzLimiterRPM(f *testing.F) {
	f.Add(uint8(3), []byte{0, 0, 0, 10, 200, 0, 1})
	f.Add(uint8(1), []byte{255, 255, 1, 2, 3})
	f.Fuzz(func(t *testing.T, rpm uint8, steps []byte) {
		if rpm == 0 || len(steps) > 400 {
			return
		}
		l := NewLimiter(Limits{RPM: int64(rpm)}, 0)
		now := t0
		var admitted []int64 // seconds of admissions
		for i, b := range steps {
			now = now.Add(time.Duration(b) * 97 * time.Millisecond)
			v, wait := l.Admit(now)
			sec := now.Unix()
			n := 0
			for _, s := range admitted {
				if s > sec-60 {
					n++
				}
			}
			switch v {
			case Admitted:
				if n >= int(rpm) {
					t.Fatalf("step %d: admitted with %d already in the window (rpm %d)", i, n, rpm)
				}
				admitted = append(admitted, sec)
			case RateLimited:
				if n < int(rpm) || wait <= 0 || wait > time.Minute {
					t.Fatalf("step %d: refused with %d in the window (rpm %d), wait %v", i, n, rpm, wait)
				}
				probe := *l
				if v, _ := probe.Admit(now.Add(wait - time.Millisecond)); v == Admitted && wait > time.Millisecond {
					t.Fatalf("step %d: admitted before the wait %v was over", i, wait)
				}
				probe = *l
				if v, _ := probe.Admit(now.Add(wait)); v != Admitted {
					t.Fatalf("step %d: still refused after the wait %v", i, wait)
				}
			default:
				t.Fatalf("step %d: verdict %v without a quota", i, v)
			}
		}
	})
}
