package main

// Helpers for the tests that run the real, built catfish binary against
// scripted fake upstreams: faults_test.go, storm_test.go,
// shutdown_test.go, hostile_test.go and the others. The binary, the
// process runner and the fake upstreams are enginetest's; every process
// listens on 127.0.0.1 with a fresh data directory, and every wait is
// bounded.

import (
	"net/http"
	"strings"
	"testing"

	"catfish/engine/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// wantChain checks the attempt chain against "id=outcome" entries.
func wantChain(t *testing.T, h http.Header, want ...string) {
	t.Helper()
	if got := enginetest.Attempts(h); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("attempts: got %v, want %v", got, want)
	}
}

// slowTest skips a test that takes seconds under -short.
func slowTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for seconds; skipped in -short mode")
	}
}
