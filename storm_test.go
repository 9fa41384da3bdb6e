package main

// A storm against the built binary. The same storm runs in-process under
// the race detector with a goroutine count in engine/storm_test.go; here
// the real process shows that every request is answered, that it serves
// normally afterwards, and that its threads, open files and memory settle.
//
// As there, the client's deadline only catches a hang (an upstream that
// hangs never gives up on its own, so a missing timeout leaves its client
// waiting): it is no latency bound, since the 300 clients and the four
// upstreams share this race-instrumented test process, and a loaded
// machine makes them wait for the CPU.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

func TestStormBinary(t *testing.T) {
	slowTest(t)
	s := enginetest.Start(t,
		"FIRST_BYTE_TIMEOUT=1", "STREAM_IDLE_TIMEOUT=1",
		// A high threshold keeps the channels in play, so most requests
		// meet the chaos instead of a quick 503 from open breakers.
		"BREAKER_THRESHOLD=20", "BREAKER_COOLDOWN=200ms", "BREAKER_MAX_COOLDOWN=500ms")
	var ups []*enginetest.Chaos
	for i := range 4 {
		u := enginetest.NewChaos(t)
		ups = append(ups, u)
		s.AddChannel(map[string]any{"url": u.V1(), "priority": i % 2, "name": fmt.Sprint("storm-", i)})
	}
	// Warm up, then take the baseline.
	calm(ups, true)
	for range 8 {
		if code, _, body := s.Chat("default", false); code != 200 {
			t.Fatalf("warm-up: %d %s", code, body)
		}
	}
	s.Client.CloseIdleConnections()
	for _, u := range ups {
		u.CloseClientConnections()
	}
	time.Sleep(200 * time.Millisecond)
	baseFiles, baseThreads, baseRSS := s.OpenFiles(), s.ProcStatus("Threads"), s.ProcStatus("VmRSS")
	calm(ups, false)

	const total, conc, deadline = 1000, 300, time.Minute
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	var mu sync.Mutex
	codes := map[int]int{}
	var slowest time.Duration
	var brokenStreams int
	start := time.Now()
	for i := range total {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			began := time.Now()
			req, _ := http.NewRequestWithContext(ctx, "POST", s.Base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", i%2 == 0)))
			req.Header.Set("Authorization", "Bearer "+enginetest.AdminKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("request %d not answered: %v", i, err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Errorf("request %d: answer not read to its end: %v", i, err)
				return
			}
			took := time.Since(began)
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			slowest = max(slowest, took)
			if resp.StatusCode == 200 && i%2 == 0 {
				ev := enginetest.SSEData(string(body))
				switch last := ev[len(ev)-1]; {
				case last == "[DONE]":
				case strings.HasPrefix(last, `{"error":`):
					brokenStreams++
				default:
					t.Errorf("request %d: stream ends with neither [DONE] nor an error: %q", i, last)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests in %v; status codes %v; %d streams broke after commit; slowest %v",
		total, time.Since(start).Round(time.Millisecond), codes, brokenStreams, slowest.Round(time.Millisecond))
	for code := range codes {
		if code != 200 && code != 429 && code < 500 {
			t.Errorf("unexpected status %d", code)
		}
	}
	if codes[200] < total/4 {
		t.Errorf("only %d of %d requests succeeded over four channels", codes[200], total)
	}
	peakThreads := s.ProcStatus("Threads")

	// Calm returns: after the breakers' cooldown everything answers.
	calm(ups, true)
	time.Sleep(700 * time.Millisecond)
	for i := range 20 {
		if code, _, body := s.Chat("default", i%2 == 0); code != 200 {
			t.Errorf("after the storm, request %d: %d %s", i, code, body)
		}
	}

	// Connections closed on both sides, the process settles back.
	client.CloseIdleConnections()
	s.Client.CloseIdleConnections()
	for _, u := range ups {
		u.CloseClientConnections()
	}
	var files int
	enginetest.WaitFor(t, 10*time.Second, "open files back to the baseline", func() bool {
		files = s.OpenFiles()
		return files <= baseFiles+2
	})
	rss1, threads1 := s.ProcStatus("VmRSS"), s.ProcStatus("Threads")
	time.Sleep(2 * time.Second)
	rss2, threads2 := s.ProcStatus("VmRSS"), s.ProcStatus("Threads")
	t.Logf("open files %d → %d; threads %d → peak %d → %d; RSS %d kB → %d kB → %d kB",
		baseFiles, files, baseThreads, peakThreads, threads2, baseRSS, rss1, rss2)
	if threads2 > threads1+2 || threads2 > 64 {
		t.Errorf("threads: %d, then %d: want settled and few", threads1, threads2)
	}
	if rss2 > rss1+rss1/10 || rss2 > 256<<10 {
		t.Errorf("RSS: %d kB, then %d kB: want settled, under 256 MiB", rss1, rss2)
	}
}

func calm(ups []*enginetest.Chaos, on bool) {
	for _, u := range ups {
		u.Calm(on)
	}
}
