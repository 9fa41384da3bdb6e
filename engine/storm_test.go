package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// TestStorm sends 1,000 requests at concurrency 300 through four channels
// that fail at random (errors, hangs, resets, broken and stalled streams),
// under the race detector in `make test`. Every request must be answered,
// the proxy must serve normally afterwards, and no goroutine may outlive
// the engine.
//
// An upstream that hangs never gives up on its own (enginetest.Hang), so
// a request the engine forgets to time out leaves its client waiting; the
// client's deadline, stormHang, catches that. It is no latency bound: the
// 300 requests in flight share this process's CPU (with the race detector,
// and in CI with other test binaries), and on a loaded machine a request
// waited 9 s before its handler even ran, so a 10 s deadline failed
// requests the engine answered in under a second.
const stormHang = time.Minute

func TestStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("storm in -short mode")
	}
	before := runtime.NumGoroutine()
	t.Run("storm", func(t *testing.T) {
		h := newHarness(t, func(c *Config) {
			c.FirstByteTimeout = 300 * time.Millisecond
			c.IdleTimeout = 300 * time.Millisecond
			c.BreakerCooldown = 100 * time.Millisecond
			c.BreakerMaxCooldown = 200 * time.Millisecond
		})
		var ups []*enginetest.Chaos
		for i := range 4 {
			u := enginetest.NewChaos(t)
			ups = append(ups, u)
			h.addChannel(map[string]any{"url": u.V1(), "priority": i % 2, "name": fmt.Sprint("storm-", i)})
		}

		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 400}}
		defer client.CloseIdleConnections()
		const total, conc = 1000, 300
		var wg sync.WaitGroup
		sem := make(chan struct{}, conc)
		var mu sync.Mutex
		codes := map[int]int{}
		var slowest time.Duration
		for i := range total {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(context.Background(), stormHang)
				defer cancel()
				began := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", i%2 == 0)))
				req.Header.Set("Authorization", "Bearer "+testKey)
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("request %d not answered: %v", i, err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Errorf("request %d: answer not read to its end: %v", i, err)
				}
				// A stream ends complete or with an error event, never
				// silently truncated.
				if ev := enginetest.SSEData(string(body)); resp.StatusCode == 200 && i%2 == 0 {
					if len(ev) == 0 || ev[len(ev)-1] != "[DONE]" && !strings.HasPrefix(ev[len(ev)-1], `{"error":`) {
						t.Errorf("request %d: stream ends with neither [DONE] nor an error: %q", i, body)
					}
				}
				mu.Lock()
				codes[resp.StatusCode]++
				slowest = max(slowest, time.Since(began))
				mu.Unlock()
			})
		}
		wg.Wait()
		t.Logf("status codes: %v; slowest answer %v", codes, slowest.Round(time.Millisecond))
		for code := range codes {
			if code != 200 && code < 500 && code != 429 {
				t.Errorf("unexpected status %d", code)
			}
		}
		// Calm returns: after the breakers' cooldown everything answers.
		for _, u := range ups {
			u.Calm(true)
		}
		time.Sleep(250 * time.Millisecond)
		for i := range 8 {
			if code, _, body := h.chat("default", false); code != 200 {
				t.Errorf("after the storm, request %d: %d %s", i, code, body)
			}
		}
	})
	// Every engine, server and upstream goroutine must be gone.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
