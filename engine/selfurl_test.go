package engine

import (
	"net"
	"testing"
)

func TestPointsAt(t *testing.T) {
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	all := &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}
	for _, tc := range []struct {
		url  string
		addr *net.TCPAddr
		want bool
	}{
		{"http://127.0.0.1:8080/v1", loop, true},
		{"http://localhost:8080/v1", loop, true},
		{"http://LOCALHOST:8080", loop, true},
		{"http://[::1]:8080/v1", loop, true},
		{"http://127.0.0.1:8081/v1", loop, false},
		{"https://127.0.0.1/v1", loop, false},
		{"http://api.example.com:8080/v1", loop, false},
		{"http://127.0.0.1:8080/v1", all, true},
		{"http://0.0.0.0:8080/v1", all, true},
		{"http://localhost:8080/v1", all, true},
		{"http://10.255.255.254:8080/v1", loop, false},
		{"http://127.0.0.1/v1", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, true},
		{"https://localhost/v1", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}, true},
	} {
		if got := pointsAt(tc.url, tc.addr); got != tc.want {
			t.Errorf("pointsAt(%s, %s) = %v, want %v", tc.url, tc.addr, got, tc.want)
		}
	}
}
