package keys

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchKeys runs an actor with n keys (the last one limited) and returns
// it with the secrets.
func benchKeys(b *testing.B, n int) (*Keys, []string) {
	b.Helper()
	list := make([]Key, n)
	secrets := make([]string, n)
	for i := range n {
		secrets[i] = NewSecret()
		list[i] = testKey(fmt.Sprint("k", i), fmt.Sprint("key-", i), secrets[i])
	}
	list[n-1].RPM = i64(1 << 40)
	list[n-1].TPM = i64(1 << 40)
	k := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	go k.Run(ctx)
	b.Cleanup(func() { cancel(); <-k.done })
	if err := k.Set(ctx, list); err != nil {
		b.Fatal(err)
	}
	return k, secrets
}

// reportCPU adds cpu-ns/op: the whole process's CPU time (the actor's
// loop included) per operation, which is what a request costs the server.
func reportCPU(b *testing.B, run func()) {
	b.Helper()
	start := processCPU()
	run()
	if used := processCPU() - start; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkAuthenticate: one request's key check with 1,000 keys
// configured, for a good key and a wrong one.
func BenchmarkAuthenticate(b *testing.B) {
	k, secrets := benchKeys(b, 1000)
	now := time.Now()
	for _, c := range []struct{ name, token string }{{"good", secrets[500]}, {"wrong", NewSecret()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			reportCPU(b, func() {
				for b.Loop() {
					k.Authenticate(c.token, now)
				}
			})
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				k.Authenticate(secrets[i%len(secrets)], now)
				i++
			}
		})
	})
}

// BenchmarkAdmit: admission and release of one request, for a key
// without limits (no round trip) and a limited one (one round trip).
func BenchmarkAdmit(b *testing.B) {
	k, secrets := benchKeys(b, 1000)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		secret string
	}{{"unlimited", secrets[0]}, {"limited", secrets[len(secrets)-1]}} {
		caller, err := k.Authenticate(c.secret, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			reportCPU(b, func() {
				for b.Loop() {
					release, _, err := k.Admit(ctx, caller, time.Now())
					if err != nil {
						b.Fatal(err)
					}
					release(Usage{Prompt: 10, Completion: 20}, false)
				}
				k.Take(ctx, false) // the loop has counted every report
			})
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			reportCPU(b, func() {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						release, _, err := k.Admit(ctx, caller, time.Now())
						if err != nil {
							b.Error(err)
							return
						}
						release(Usage{Prompt: 10, Completion: 20}, false)
					}
				})
				k.Take(ctx, false)
			})
		})
	}
}
