package engine

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// healthcheckServer starts a server on 127.0.0.1 and returns its port.
func healthcheckServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func TestHealthcheckOK(t *testing.T) {
	var path string
	port := healthcheckServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.Method + " " + r.URL.Path
		w.Write([]byte(`{"status":"ok"}`))
	})
	// PORT as the server reads it; HOST is empty, so the probe goes to
	// loopback. A proxy in the environment must not be used.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	cfg, err := LoadConfig(healthcheckLookup(map[string]string{"PORT": port}))
	if err != nil {
		t.Fatal(err)
	}
	if err := Healthcheck(t.Context(), cfg); err != nil {
		t.Fatalf("Healthcheck: %v", err)
	}
	if path != "GET /healthz" {
		t.Fatalf("probe was %q, want GET /healthz", path)
	}
	// Unspecified hosts are probed on loopback too.
	for _, addr := range []string{"0.0.0.0:" + port, "[::]:" + port, "127.0.0.1:" + port} {
		if err := Healthcheck(t.Context(), Config{Addr: addr}); err != nil {
			t.Errorf("Addr %s: %v", addr, err)
		}
	}
}

func TestHealthcheckNotOK(t *testing.T) {
	port := healthcheckServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	if err := Healthcheck(t.Context(), Config{Addr: ":" + port}); err == nil {
		t.Fatal("503 passed the healthcheck")
	}
	notFound := healthcheckServer(t, http.NotFound)
	if err := Healthcheck(t.Context(), Config{Addr: ":" + notFound}); err == nil {
		t.Fatal("404 passed the healthcheck")
	}
}

func TestHealthcheckNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := Healthcheck(t.Context(), Config{Addr: addr}); err == nil {
		t.Fatal("a closed port passed the healthcheck")
	}
}

func TestHealthcheckBounded(t *testing.T) {
	release := make(chan struct{})
	port := healthcheckServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Healthcheck(ctx, Config{Addr: ":" + port}); err == nil {
		t.Fatal("a hung server passed the healthcheck")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the probe took %v", d)
	}
	if HealthcheckTimeout != 3*time.Second {
		t.Fatalf("HealthcheckTimeout = %v, want 3s", HealthcheckTimeout)
	}
}

func TestHealthcheckBadAddr(t *testing.T) {
	if err := Healthcheck(t.Context(), Config{Addr: "no-port"}); err == nil {
		t.Fatal("an address without a port passed")
	}
}

func healthcheckLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
