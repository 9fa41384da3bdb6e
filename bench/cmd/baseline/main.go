// Command baseline is the thinnest reasonable Go LLM proxy, the yardstick of
// catfish's benchmark: net/http/httputil.ReverseProxy with FlushInterval -1
// (every write of a stream is flushed at once), a tuned http.Transport (a
// large idle pool per host, no compression), the request body read into
// memory first (an LLM proxy must see "model" and "stream" before choosing
// an upstream; it also avoids golang/go#40747), and the client's key checked
// and swapped for the upstream's.
//
// Requests to /v1/<rest> go to <upstream>/<rest>, where -upstream is a
// channel base URL such as http://127.0.0.1:19200/v1 (as in catfish).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19202", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:19200/v1", "upstream base URL (the part that replaces /v1)")
	clientKey := flag.String("key", "sk-bench", "bearer key clients must send (empty: not checked)")
	upstreamKey := flag.String("upstream-key", "sk-upstream-mock", "bearer key sent upstream")
	bodyLimit := flag.Int64("body-limit", 32<<20, "largest request body in bytes")
	pooled := flag.Bool("buffer-pool", false, "reuse ReverseProxy copy buffers (default: a fresh 32 KiB buffer per response, as ReverseProxy does out of the box)")
	flag.Parse()

	up, err := url.Parse(*upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		log.Fatalf("baseline: -upstream %q: want an absolute http(s) URL", *upstream)
	}
	basePath := strings.TrimSuffix(up.Path, "/")
	wantAuth := "Bearer " + *clientKey
	upAuth := "Bearer " + *upstreamKey

	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0, // no global cap
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ExpectContinueTimeout: time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme = up.Scheme
			out.URL.Host = up.Host
			out.URL.Path = basePath + strings.TrimPrefix(pr.In.URL.Path, "/v1")
			out.URL.RawPath = ""
			out.Host = up.Host
			out.Header.Set("Authorization", upAuth)
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorLog:      log.New(os.Stderr, "baseline: ", log.LstdFlags),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			jsonError(w, http.StatusBadGateway, "upstream error: "+err.Error())
		},
	}
	if *pooled {
		rp.BufferPool = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			if r.URL.Path == "/healthz" {
				io.WriteString(w, "ok\n")
				return
			}
			jsonError(w, http.StatusNotFound, "not found")
			return
		}
		if *clientKey != "" && r.Header.Get("Authorization") != wantAuth {
			jsonError(w, http.StatusUnauthorized, "invalid key")
			return
		}
		if r.ContentLength > *bodyLimit {
			jsonError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		size := int64(512)
		if r.ContentLength > 0 {
			size = r.ContentLength + 1 // +1 so ReadFrom sees EOF without growing
		}
		buf := bytes.NewBuffer(make([]byte, 0, size))
		if _, err := buf.ReadFrom(io.LimitReader(r.Body, *bodyLimit+1)); err != nil {
			jsonError(w, http.StatusBadRequest, "cannot read body")
			return
		}
		if int64(buf.Len()) > *bodyLimit {
			jsonError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		body := buf.Bytes()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		rp.ServeHTTP(w, r)
	})

	srv := &http.Server{
		Addr:              *addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("baseline: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "baseline: listening on %s, upstream %s\n", ln.Addr(), up)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("baseline: %v", err)
	}
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":{\"message\":%q,\"type\":\"proxy_error\"}}\n", msg)
}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *b.p.Get().(*[]byte) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }
