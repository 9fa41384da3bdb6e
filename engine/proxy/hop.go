package proxy

import (
	"net/http"
	"strconv"
	"strings"

	"catfish/engine/dialect"
)

// HopHeader names, on every upstream request, the Catfish instances the
// request has passed through, oldest first: "X-Catfish-Hop: a1b2, c3d4".
// A request that already names this instance has come back to it (a
// channel pointing at Catfish itself, or two instances pointing at each
// other) and is answered 508 at once instead of going round again.
const HopHeader = "X-Catfish-Hop"

// maxHops bounds a chain of distinct instances; longer ones are loops too
// (or a client that made the header up).
const maxHops = 16

// errLoop answers a request that came back to this instance.
var errLoop = &dialect.Error{Status: http.StatusLoopDetected, Type: "invalid_request_error", Code: "loop_detected",
	Message: "loop detected: this request has already passed through this Catfish; a channel's URL points back at it (directly or through another proxy)"}

// hops reads the hop header of a client request and returns the value to
// send upstream: the instances so far plus this one. Ids that are not
// well formed are dropped. It returns errLoop when the chain names this
// instance already or is too long.
func (p *Proxy) hops(h http.Header) (string, error) {
	var ids []string
	for _, v := range h.Values(HopHeader) {
		for id := range strings.SplitSeq(v, ",") {
			id = strings.TrimSpace(id)
			if id == p.cfg.Instance {
				return "", errLoop
			}
			if validHopID(id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) >= maxHops {
		loop := *errLoop
		loop.Message = "loop detected: this request has passed through " + strconv.Itoa(len(ids)) + " proxies already"
		return "", &loop
	}
	return strings.Join(append(ids, p.cfg.Instance), ", "), nil
}

func validHopID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
