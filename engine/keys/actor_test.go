package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"catfish/scheme"
)

func i64(v int64) *int64 { return &v }

// testKey is an enabled key named name holding secret.
func testKey(id, name, secret string) Key {
	return Key{ID: id, Name: name, Enabled: true, Schemes: []string{}, CreatedAt: t0}.WithSecret(secret)
}

// startKeys runs an actor until the test ends.
func startKeys(t *testing.T, usage map[string]Totals, list ...Key) *Keys {
	t.Helper()
	k := New(usage)
	ctx, cancel := context.WithCancel(context.Background())
	go k.Run(ctx)
	t.Cleanup(func() { cancel(); <-k.done })
	if err := k.Set(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuthenticate(t *testing.T) {
	expires := at(time.Hour)
	good, off, old, scoped := NewSecret(), NewSecret(), NewSecret(), NewSecret()
	kOff := testKey("off", "off", off)
	kOff.Enabled = false
	kOld := testKey("old", "old", old)
	kOld.ExpiresAt = &expires
	kScoped := testKey("scoped", "scoped", scoped)
	kScoped.Schemes, kScoped.RPM = []string{"b", "c"}, i64(5)
	synctest.Test(t, func(t *testing.T) {
		k := startKeys(t, nil, testKey("good", "good", good), kOff, kOld, kScoped)
		for _, c := range []struct {
			name    string
			token   string
			now     time.Time
			want    string // caller id; "" for ErrInvalidKey
			scope   scheme.Scope
			limited bool
		}{
			{"good", good, t0, "good", nil, false},
			{"wrong", NewSecret(), t0, "", nil, false},
			{"empty", "", t0, "", nil, false},
			{"prefix of a good one", good[:len(good)-1], t0, "", nil, false},
			{"disabled", off, t0, "", nil, false},
			{"a nanosecond before expiry", old, expires.Add(-1), "old", nil, false},
			{"exactly at expiry", old, expires, "", nil, false},
			{"after expiry", old, expires.Add(time.Second), "", nil, false},
			{"scoped and limited", scoped, t0, "scoped", scheme.Scope{"b", "c"}, true},
		} {
			got, err := k.Authenticate(c.token, c.now)
			if c.want == "" {
				if err != ErrInvalidKey || got.ID != "" {
					t.Errorf("%s: got %+v %v, want ErrInvalidKey", c.name, got, err)
				}
				continue
			}
			if err != nil || got.ID != c.want || got.Name != c.want || !slices.Equal(got.Scope, c.scope) ||
				(got.Scope == nil) != (c.scope == nil) || got.Limited != c.limited {
				t.Errorf("%s: got %+v %v, want id %s scope %v limited %v", c.name, got, err, c.want, c.scope, c.limited)
			}
		}
	})
}

func TestAuthenticateEmptyTable(t *testing.T) {
	k := New(nil) // not even running: the table is published at New
	if _, err := k.Authenticate(NewSecret(), t0); err != ErrInvalidKey {
		t.Fatalf("got %v, want ErrInvalidKey", err)
	}
}

func TestSetTakesEffectBeforeItReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		oldSecret, newSecret := NewSecret(), NewSecret()
		key := testKey("k", "app", oldSecret)
		k := startKeys(t, nil, key)
		if _, err := k.Authenticate(oldSecret, t0); err != nil {
			t.Fatal(err)
		}
		// Rotation: the old secret is refused as soon as Set returns.
		if err := k.Set(context.Background(), []Key{key.WithSecret(newSecret)}); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Authenticate(oldSecret, t0); err != ErrInvalidKey {
			t.Errorf("old secret after rotation: got %v, want ErrInvalidKey", err)
		}
		if c, err := k.Authenticate(newSecret, t0); err != nil || c.ID != "k" {
			t.Errorf("new secret: got %+v %v", c, err)
		}
		// Deletion.
		if err := k.Set(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Authenticate(newSecret, t0); err != ErrInvalidKey {
			t.Errorf("deleted key: got %v, want ErrInvalidKey", err)
		}
	})
}

// TestUnlimitedAdmitNeedsNoActor proves the unlimited path makes no round
// trip: it works with the loop stopped, where a limited key cannot.
func TestUnlimitedAdmitNeedsNoActor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		free, limited := NewSecret(), NewSecret()
		kl := testKey("l", "limited", limited)
		kl.RPM = i64(100)
		k := New(nil)
		ctx, cancel := context.WithCancel(context.Background())
		go k.Run(ctx)
		if err := k.Set(ctx, []Key{testKey("f", "free", free), kl}); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-k.done
		c, err := k.Authenticate(free, t0)
		if err != nil {
			t.Fatal(err)
		}
		release, wait, err := k.Admit(context.Background(), c, t0)
		if err != nil || wait != 0 || release == nil {
			t.Fatalf("unlimited Admit with the actor stopped: got %v %v", wait, err)
		}
		release(Usage{Prompt: 1}, false) // must not block on a stopped actor
		c, _ = k.Authenticate(limited, t0)
		if _, _, err := k.Admit(context.Background(), c, t0); err != ErrStopped {
			t.Errorf("limited Admit with the actor stopped: got %v, want ErrStopped", err)
		}
	})
}

func TestAdminCallerGetsANoOpRelease(t *testing.T) {
	k := New(nil)
	release, wait, err := k.Admit(context.Background(), Caller{Name: AdminName}, t0)
	if err != nil || wait != 0 {
		t.Fatalf("got %v %v", wait, err)
	}
	release(Usage{Prompt: 5}, true) // nothing to count, nothing to block on
}

func mustAdmit(t *testing.T, k *Keys, c Caller, now time.Time) func(Usage, bool) {
	t.Helper()
	release, wait, err := k.Admit(context.Background(), c, now)
	if err != nil {
		t.Fatalf("Admit at %v: got %v (wait %v), want admitted", now.Sub(t0), err, wait)
	}
	return release
}

func TestActorRateLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		secret := NewSecret()
		key := testKey("k", "app", secret)
		key.RPM, key.TPM = i64(2), i64(100)
		k := startKeys(t, nil, key)
		// The bubble's clock starts on a whole second; release stamps its
		// report with it, so admissions use it too.
		c, err := k.Authenticate(secret, time.Now())
		if err != nil || !c.Limited {
			t.Fatalf("got %+v %v", c, err)
		}
		r1 := mustAdmit(t, k, c, time.Now())
		time.Sleep(time.Second)
		mustAdmit(t, k, c, time.Now())
		time.Sleep(time.Second)
		_, wait, err := k.Admit(context.Background(), c, time.Now())
		if err != ErrRateLimited || wait != 58*time.Second {
			t.Fatalf("third in a minute: got %v wait %v, want ErrRateLimited wait 58s", err, wait)
		}
		// A finished request's tokens count against TPM at once: the loop
		// reads every report sent before the next admission.
		time.Sleep(8 * time.Second)
		r1(Usage{Prompt: 60, Completion: 40}, false) // at 10 s
		time.Sleep(51 * time.Second)                 // 61 s: RPM has room again
		_, wait, err = k.Admit(context.Background(), c, time.Now())
		if err != ErrRateLimited || wait != 9*time.Second {
			t.Fatalf("after 100 tokens: got %v wait %v, want ErrRateLimited wait 9s (the tokens of second 10)", err, wait)
		}
		time.Sleep(wait)
		mustAdmit(t, k, c, time.Now())
	})
}

// TestQuotaSpentMidStream: a request admitted under the quota finishes
// (its release goes over the quota), and the next one is refused.
func TestQuotaSpentMidStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		secret := NewSecret()
		key := testKey("k", "app", secret)
		key.TokenQuota = i64(100)
		k := startKeys(t, nil, key)
		c, _ := k.Authenticate(secret, time.Now())
		stream := mustAdmit(t, k, c, time.Now())
		// While the stream runs, its tokens are unknown: another request
		// is admitted (the documented bound).
		other := mustAdmit(t, k, c, time.Now())
		time.Sleep(10 * time.Second)
		stream(Usage{Prompt: 20, Completion: 130}, false)
		if _, _, err := k.Admit(context.Background(), c, time.Now()); err != ErrQuotaExceeded {
			t.Fatalf("after the stream spent the quota: got %v, want ErrQuotaExceeded", err)
		}
		other(Usage{Prompt: 1, Completion: 1}, false)
		v, err := k.Get(context.Background(), "k", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if v.Usage.Requests != 2 || v.Usage.Tokens() != 152 {
			t.Errorf("usage: %+v", v.Usage)
		}
	})
}

func TestAdmitRefusesKeysChangedSinceAuthenticate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		secret := NewSecret()
		key := testKey("k", "app", secret)
		key.RPM = i64(10)
		k := startKeys(t, nil, key)
		c, _ := k.Authenticate(secret, t0)
		off := key.Clone()
		off.Enabled = false
		k.Set(context.Background(), []Key{off})
		if _, _, err := k.Admit(context.Background(), c, t0); err != ErrInvalidKey {
			t.Errorf("disabled meanwhile: got %v, want ErrInvalidKey", err)
		}
		k.Set(context.Background(), nil)
		if _, _, err := k.Admit(context.Background(), c, t0); err != ErrInvalidKey {
			t.Errorf("deleted meanwhile: got %v, want ErrInvalidKey", err)
		}
	})
}

func TestUsageCountedAndTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := NewSecret(), NewSecret()
		restored := map[string]Totals{"a": {Requests: 5, Failures: 1, PromptTokens: 50, CompletionTokens: 10}, "gone": {Requests: 9}}
		kb := testKey("b", "b", b)
		kb.TokenQuota = i64(1000)
		k := startKeys(t, restored, testKey("a", "a", a), kb)

		take, err := k.Take(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		if take.Delta != nil || len(take.Full) != 2 || take.Full["a"].Requests != 5 {
			t.Fatalf("first take: %+v", take)
		}
		ca, _ := k.Authenticate(a, time.Now())
		cb, _ := k.Authenticate(b, time.Now())
		ra := mustAdmit(t, k, ca, time.Now())
		ra(Usage{Prompt: 3, Completion: 4}, true)
		rb := mustAdmit(t, k, cb, time.Now())
		rb(Usage{Prompt: 1}, false)

		take, _ = k.Take(context.Background(), false)
		now := time.Now().UTC()
		wantA := Totals{Requests: 6, Failures: 2, PromptTokens: 53, CompletionTokens: 14, LastUsed: &now}
		if got := take.Delta["a"]; got.Requests != wantA.Requests || got.Failures != wantA.Failures ||
			got.PromptTokens != wantA.PromptTokens || got.CompletionTokens != 14 || got.LastUsed == nil || !got.LastUsed.Equal(now) {
			t.Errorf("delta of a: got %+v, want %+v", got, wantA)
		}
		if len(take.Delta) != 2 || take.Full != nil {
			t.Errorf("delta: %+v", take)
		}
		if take, _ = k.Take(context.Background(), false); take.Delta != nil {
			t.Errorf("nothing changed since: got %+v", take.Delta)
		}
		// The quota counts usage from before the restart.
		views, _ := k.List(context.Background(), time.Now())
		if len(views) != 2 || views[0].ID != "a" || views[1].Minute == nil || views[0].Minute != nil {
			t.Errorf("list: %+v", views)
		}
	})
}

func TestDeletedKeyUsageIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSecret()
		k := startKeys(t, nil, testKey("a", "a", s))
		c, _ := k.Authenticate(s, time.Now())
		release := mustAdmit(t, k, c, time.Now())
		k.Set(context.Background(), nil)
		release(Usage{Prompt: 1}, false) // finishes after its key was deleted
		if take, _ := k.Take(context.Background(), true); take.Delta != nil || len(take.Full) != 0 {
			t.Errorf("take after delete: %+v", take)
		}
		if _, err := k.Get(context.Background(), "a", time.Now()); err != ErrNotFound {
			t.Errorf("Get: got %v, want ErrNotFound", err)
		}
	})
}

// TestShutdownCountsReportedUsage: reports sent before the loop stops are
// counted, whatever the order the loop sees them in.
func TestShutdownCountsReportedUsage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSecret()
		k := New(nil)
		ctx, cancel := context.WithCancel(context.Background())
		go k.Run(ctx)
		k.Set(ctx, []Key{testKey("a", "a", s)})
		c, _ := k.Authenticate(s, time.Now())
		for range 100 {
			release := mustAdmit(t, k, c, time.Now())
			release(Usage{Prompt: 1}, false)
		}
		cancel()
		<-k.done
		if got := k.slots["a"].usage.Requests; got != 100 {
			t.Errorf("requests counted: %d, want 100", got)
		}
	})
}

// TestConcurrentAdmissionsBound: 200 goroutines against one key. RPM is
// exact: admissions are counted by the loop one at a time. TPM sees only
// finished requests, so it is exceeded by at most the requests admitted
// and still in flight when the limit was reached. Run it with -race.
func TestConcurrentAdmissionsBound(t *testing.T) {
	t.Run("rpm", func(t *testing.T) {
		secret := NewSecret()
		key := testKey("k", "app", secret)
		key.RPM = i64(10)
		k := startKeys(t, nil, key)
		c, _ := k.Authenticate(secret, t0)
		var admitted, limited atomic.Int64
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				release, wait, err := k.Admit(context.Background(), c, t0)
				switch {
				case err == nil:
					admitted.Add(1)
					release(Usage{Prompt: 1}, false)
				case errors.Is(err, ErrRateLimited) && wait == time.Minute:
					limited.Add(1)
				default:
					t.Errorf("Admit: %v wait %v", err, wait)
				}
			})
		}
		wg.Wait()
		if admitted.Load() != 10 || limited.Load() != 190 {
			t.Errorf("admitted %d, limited %d; want exactly 10 and 190", admitted.Load(), limited.Load())
		}
	})
	t.Run("tpm", func(t *testing.T) {
		const limit, perRequest, concurrency = 1000, 30, 16
		secret := NewSecret()
		key := testKey("k", "app", secret)
		key.TPM = i64(limit)
		k := startKeys(t, nil, key)
		c, _ := k.Authenticate(secret, t0)
		var admitted, inflight, maxInflight atomic.Int64
		sem := make(chan struct{}, concurrency) // at most this many requests in flight
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				release, _, err := k.Admit(context.Background(), c, time.Now())
				if err != nil {
					return
				}
				admitted.Add(1)
				n := inflight.Add(1)
				for m := maxInflight.Load(); n > m && !maxInflight.CompareAndSwap(m, n); m = maxInflight.Load() {
				}
				time.Sleep(time.Millisecond) // the upstream call
				inflight.Add(-1)
				release(Usage{Prompt: perRequest / 2, Completion: perRequest / 2}, false)
			})
		}
		wg.Wait()
		// One at a time, ⌈limit/perRequest⌉ requests fit; each request
		// in flight beside another may add one more, never more.
		fit := int64((limit + perRequest - 1) / perRequest)
		if bound := fit + maxInflight.Load() - 1; admitted.Load() > bound {
			t.Errorf("admitted %d requests of %d tokens against tpm %d: more than %d (max %d in flight)",
				admitted.Load(), perRequest, limit, bound, maxInflight.Load())
		}
		if admitted.Load() < fit {
			t.Errorf("admitted only %d, want at least %d", admitted.Load(), fit)
		}
		t.Logf("admitted %d of 200 (%d fit one at a time; max %d in flight)", admitted.Load(), fit, maxInflight.Load())
	})
}

// TestWrongExpiredDisabledIndistinguishable: the three refusals are one
// error value, and take comparable time. (The /v1 answer built from it is
// the seam's; this checks what Authenticate controls.)
func TestWrongExpiredDisabledIndistinguishable(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	now := t0
	past := now.Add(-time.Hour)
	list := make([]Key, 0, 1000)
	for i := range 998 {
		list = append(list, testKey(fmt.Sprint("k", i), fmt.Sprint("k", i), NewSecret()))
	}
	expired, disabled := NewSecret(), NewSecret()
	ke := testKey("expired", "expired", expired)
	ke.ExpiresAt = &past
	kd := testKey("disabled", "disabled", disabled)
	kd.Enabled = false
	k := startKeys(t, nil, append(list, ke, kd)...)

	kinds := []struct {
		name   string
		tokens []string
	}{{"wrong", nil}, {"expired", nil}, {"disabled", nil}}
	wrong := NewSecret()
	for range 64 {
		kinds[0].tokens = append(kinds[0].tokens, wrong)
		kinds[1].tokens = append(kinds[1].tokens, expired)
		kinds[2].tokens = append(kinds[2].tokens, disabled)
	}
	for _, kind := range kinds {
		c, err := k.Authenticate(kind.tokens[0], now)
		if err != ErrInvalidKey || c.ID != "" || c.Name != "" || c.Scope != nil || c.Limited || c.release != nil {
			t.Fatalf("%s: got %+v %v, want the zero Caller and ErrInvalidKey", kind.name, c, err)
		}
	}
	// Interleaved rounds; the median of each kind's round times.
	const rounds, per = 300, 64
	times := make([][]time.Duration, len(kinds))
	for range rounds {
		for i, kind := range kinds {
			start := time.Now()
			for j := range per {
				k.Authenticate(kind.tokens[j], now)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	med := make([]time.Duration, len(kinds))
	for i := range kinds {
		slices.Sort(times[i])
		med[i] = times[i][rounds/2] / per
	}
	lo, hi := slices.Min(med), slices.Max(med)
	t.Logf("median per call: wrong %v, expired %v, disabled %v", med[0], med[1], med[2])
	if float64(hi) > 1.25*float64(lo) {
		t.Errorf("refusals differ in time: wrong %v, expired %v, disabled %v", med[0], med[1], med[2])
	}
}
