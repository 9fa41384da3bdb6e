package main

// Client keys (catfish's /admin/keys): -make-keys creates them through the
// admin API before a run and writes the secrets to a file; -keys-file has
// every request use the next one of them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	keyPool []string
	keyNext atomic.Uint64
)

const maxKeys = 100000

func loadKeys(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k := strings.TrimSpace(sc.Text()); k != "" && !strings.HasPrefix(k, "#") {
			if len(keyPool) == maxKeys {
				return fmt.Errorf("%s: more than %d keys", path, maxKeys)
			}
			keyPool = append(keyPool, k)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(keyPool) == 0 {
		return fmt.Errorf("%s: no keys", path)
	}
	return nil
}

// makeKeys creates -make-keys client keys named bench-NNNN through POST
// <base>/admin/keys with -key as the admin key, and writes their secrets
// to -keys-out, one a line. Exit status: 0 done; 3 the target does not
// have client keys (it answered the first create with 400, 404, 405 or
// 501); 1 any other failure.
func makeKeys(base *url.URL) int {
	n := *flMakeKeys
	if n > maxKeys {
		fatalf("-make-keys: at most %d", maxKeys)
	}
	if *flKeysOut == "" {
		fatalf("-make-keys wants -keys-out FILE")
	}
	if *flKey == "" {
		fatalf("-make-keys wants the admin key in -key")
	}
	u := *base
	u.Path, u.RawQuery = "/admin/keys", ""
	target := u.String()
	client := newClient(8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	create := func(i int) (secret string, status int, err error) {
		p := map[string]any{"name": fmt.Sprintf("bench-%04d", i)}
		if *flKeyRPM > 0 {
			p["rpm"] = *flKeyRPM
		}
		if *flKeyTPM > 0 {
			p["tpm"] = *flKeyTPM
		}
		body, _ := json.Marshal(p)
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		defer rcancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return "", 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+*flKey)
		resp, err := client.Do(req)
		if err != nil {
			return "", 0, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			return "", resp.StatusCode, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, bytes.TrimSpace(b))
		}
		var v struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(b, &v); err != nil || !strings.HasPrefix(v.Key, "sk-cf-") || strings.Contains(v.Key, "…") {
			return "", resp.StatusCode, fmt.Errorf("answer carries no whole sk-cf- secret in \"key\": %.300s", bytes.TrimSpace(b))
		}
		return v.Key, resp.StatusCode, nil
	}

	start := time.Now()
	keys := make([]string, n)
	// The first one alone: it says whether the target has client keys.
	k, status, err := create(1)
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: make-keys: POST %s: %v\n", target, err)
		switch status {
		case 400, 404, 405, 501:
			return 3
		}
		return 1
	}
	keys[0] = k
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		first atomic.Pointer[error]
	)
	next.Store(1)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > n || first.Load() != nil {
					return
				}
				k, _, err := create(i)
				if err != nil {
					err = fmt.Errorf("key %d: %w", i, err)
					first.CompareAndSwap(nil, &err)
					return
				}
				keys[i-1] = k
			}
		})
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		fmt.Fprintf(os.Stderr, "load: make-keys: POST %s: %v\n", target, *p)
		return 1
	}
	var out bytes.Buffer
	for _, k := range keys {
		out.WriteString(k)
		out.WriteByte('\n')
	}
	if err := os.WriteFile(*flKeysOut, out.Bytes(), 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "load: make-keys: %v\n", err)
		return 1
	}
	if !*flQuiet {
		fmt.Fprintf(os.Stderr, "load: made %d client keys in %s\n", n, strconv.FormatFloat(time.Since(start).Seconds(), 'f', 1, 64)+" s")
	}
	return 0
}
