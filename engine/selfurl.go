package engine

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"catfish/channel"
)

// warnIfSelf logs a warning when a channel's URL points at this Catfish's
// own listen address. Requests through such a channel come back here;
// the hop header stops them with 508, but the channel is still a mistake
// (often a port mixed up). Addresses behind a proxy or a port mapping are
// not recognised here; the hop header catches those.
func (e *Engine) warnIfSelf(s channel.Settings) {
	if e.listen == nil || !pointsAt(s.URL, e.listen) {
		return
	}
	e.log.Warn("channel URL points at this Catfish itself: requests through it come back and get 508 (loop)",
		"channel", s.ID, "scheme", s.Scheme, "name", s.Name)
}

// pointsAt reports whether the base URL raw names addr: the same port, and
// a host that is addr's IP, or for an addr on every interface, a local
// address or name.
func pointsAt(raw string, addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port != strconv.Itoa(tcp.Port) {
		return false
	}
	host := strings.ToLower(u.Hostname())
	ip := net.ParseIP(host)
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		ip = net.IPv6loopback
	case ip == nil:
		// Another name: only this machine's own is known without a lookup.
		name, err := os.Hostname()
		return err == nil && strings.EqualFold(name, host) && tcp.IP.IsUnspecified()
	}
	if tcp.IP.IsUnspecified() {
		return ip.IsLoopback() || ip.IsUnspecified() || isLocalIP(ip)
	}
	return ip.Equal(tcp.IP) || (ip.IsLoopback() && tcp.IP.IsLoopback())
}

func isLocalIP(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
