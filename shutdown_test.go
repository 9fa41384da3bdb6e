package main

// Graceful shutdown of the built binary: SIGTERM while streams are open.

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// openStream starts a streamed chat and reads it in the background: the
// first data event is signalled on first, the whole body and the read
// error on done.
type openStream struct {
	first chan struct{}
	done  chan struct{}
	body  strings.Builder
	err   error
}

func startStream(t *testing.T, s *enginetest.Proc) *openStream {
	t.Helper()
	req, _ := http.NewRequest("POST", s.Base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", true)))
	req.Header.Set("Authorization", "Bearer "+enginetest.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	// Its own connection: shutdown must treat each stream on its own.
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream: status %d", resp.StatusCode)
	}
	o := &openStream{first: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		var once sync.Once
		for {
			line, err := br.ReadString('\n')
			o.body.WriteString(line)
			if strings.HasPrefix(line, "data: ") {
				once.Do(func() { close(o.first) })
			}
			if err != nil {
				if err.Error() != "EOF" {
					o.err = err
				}
				return
			}
		}
	}()
	select {
	case <-o.first:
	case <-time.After(10 * time.Second):
		t.Fatalf("no first event within 10 s")
	}
	return o
}

func (o *openStream) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(limit):
		t.Fatalf("stream still open after %v", limit)
	}
}

// slowStream sends a chunk every interval, n in all, then finishes.
func slowStream(n int, interval time.Duration) func(int64, http.ResponseWriter, *http.Request) {
	return func(_ int64, w http.ResponseWriter, r *http.Request) {
		sw := enginetest.StartSSE(w)
		for i := range n {
			sw.Data(enginetest.Chunk(strings.Repeat("x", i%5+1), ""))
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
		}
		sw.Data(enginetest.Chunk("", "stop"))
		sw.Data("[DONE]")
	}
}

// refused reports whether a new connection to addr is refused.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func TestShutdownLetsStreamsFinish(t *testing.T) {
	slowTest(t)
	dir := t.TempDir()
	s := enginetest.StartIn(t, dir, "SHUTDOWN_TIMEOUT=10")
	up := enginetest.NewUpstream(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			slowStream(10, 200*time.Millisecond)(n, w, r)
			return
		}
		enginetest.WriteChat(w, "quick")
	})
	id := s.AddChannel(map[string]any{"url": up.V1()})
	for range 2 {
		if code, _, _ := s.Chat("default", false); code != 200 {
			t.Fatalf("warm-up: %d", code)
		}
	}
	var streams []*openStream
	for range 3 {
		streams = append(streams, startStream(t, s))
	}
	s.Client.CloseIdleConnections()
	start := time.Now()
	s.Cmd.Process.Signal(syscall.SIGTERM)
	enginetest.WaitFor(t, 2*time.Second, "new connections refused after SIGTERM", func() bool { return refused(s.Addr) })
	for i, o := range streams {
		o.wait(t, 10*time.Second)
		ev := enginetest.SSEData(o.body.String())
		if o.err != nil || len(ev) != 12 || ev[len(ev)-1] != "[DONE]" {
			t.Errorf("stream %d: %d events, error %v, want all 10 chunks, the finish and [DONE]:\n%s", i, len(ev), o.err, o.body.String())
		}
	}
	select {
	case <-s.Exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("catfish still running 10 s after its streams ended")
	}
	if code := s.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	took := time.Since(start)
	if took < 1500*time.Millisecond {
		t.Errorf("exited after %v: before the streams (2 s) could finish", took)
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if !strings.Contains(s.Out.String(), `msg=stopped`) {
		t.Errorf("no clean stop in the log")
	}

	// A restart shows every request, the streams finished during the
	// shutdown included: the state was flushed.
	s2 := enginetest.StartIn(t, dir)
	var st struct {
		Total      struct{ Success, Fail int64 }
		ByConfigID map[string]struct{ Success, Fail int64 } `json:"by_config_id"`
	}
	s2.GetJSON("/admin/stats", &st)
	if st.Total.Success != 5 || st.Total.Fail != 0 || st.ByConfigID[id].Success != 5 {
		t.Errorf("after restart: total %+v, channel %+v; want 5 successes", st.Total, st.ByConfigID[id])
	}
	// The final snapshot holds everything: nothing is left to replay.
	if !strings.Contains(s2.Out.String(), "replayed=0") {
		t.Errorf("the restart replayed journal records: no final snapshot?\n%s", s2.Out.String())
	}
}

func TestShutdownCutsStreamsAtTheBound(t *testing.T) {
	slowTest(t)
	dir := t.TempDir()
	s := enginetest.StartIn(t, dir, "SHUTDOWN_TIMEOUT=1")
	upstreamGone := make(chan struct{})
	up := enginetest.NewUpstream(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			enginetest.WriteChat(w, "quick")
			return
		}
		slowStream(150, 200*time.Millisecond)(n, w, r) // 30 s
		if r.Context().Err() != nil {
			close(upstreamGone)
		}
	})
	s.AddChannel(map[string]any{"url": up.V1()})
	if code, _, _ := s.Chat("default", false); code != 200 {
		t.Fatalf("warm-up: %d", code)
	}
	o := startStream(t, s)
	s.Client.CloseIdleConnections()
	start := time.Now()
	s.Cmd.Process.Signal(syscall.SIGTERM)
	o.wait(t, 10*time.Second)
	cut := time.Since(start)
	if cut < 800*time.Millisecond || cut > 5*time.Second {
		t.Errorf("stream cut %v after SIGTERM, want about SHUTDOWN_TIMEOUT (1 s)", cut)
	}
	if strings.Contains(o.body.String(), "[DONE]") {
		t.Errorf("a stream cut by the shutdown ended with [DONE]")
	}
	if !strings.Contains(o.body.String(), `data: {"error":`) || !strings.Contains(o.body.String(), "shutting_down") {
		t.Errorf("the cut stream did not end with a shutting_down error event:\n%s", o.body.String())
	}
	t.Logf("stream cut %v after SIGTERM (client read error: %v)", cut.Round(time.Millisecond), o.err)
	select {
	case <-s.Exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("catfish still running 10 s after SIGTERM")
	}
	if code := s.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	select {
	case <-upstreamGone:
	case <-time.After(5 * time.Second):
		t.Errorf("the upstream call was not cancelled")
	}
	s2 := enginetest.StartIn(t, dir)
	var st struct{ Total struct{ Success, Fail int64 } }
	s2.GetJSON("/admin/stats", &st)
	if st.Total.Success != 1 {
		t.Errorf("after restart: total %+v, want the warm-up's success", st.Total)
	}
}
