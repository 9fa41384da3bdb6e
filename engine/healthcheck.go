package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HealthcheckTimeout bounds one `catfish healthcheck` probe.
const HealthcheckTimeout = 3 * time.Second

// Healthcheck probes the server that cfg describes: GET /healthz on the
// port of cfg.Addr. A listen address with no host (or 0.0.0.0, ::) is
// probed on 127.0.0.1, so the probe never leaves the machine; a specific
// host (HOST=::1, LISTEN=127.0.0.2:9000) is probed where it listens. It
// returns nil on 200 OK within HealthcheckTimeout. It is the container's
// HEALTHCHECK, which has no shell or curl.
func Healthcheck(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, HealthcheckTimeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// A plain client: no proxy from the environment (HTTP_PROXY must not
	// route a loopback probe), no keep-alive to leave behind.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err // *url.Error names the method and URL
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
