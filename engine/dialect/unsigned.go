package dialect

import (
	"bytes"
	"encoding/json"
)

// StripUnsignedThinking removes, from a Messages request's history, the
// thinking blocks that carry no signature. Such a block is reasoning a
// chat upstream produced, which Catfish handed a Messages client (Claude
// Code echoes it back with "signature": ""); an Anthropic channel refuses
// the request whole for it. Everything else in the body is kept as it
// was (cache_control included), so a passthrough stays a passthrough in
// all but those blocks. It returns body itself, and false, when there is
// nothing to remove.
func StripUnsignedThinking(body []byte) ([]byte, bool) {
	if !bytes.Contains(body, []byte(`"thinking"`)) || !unsignedMarker(body) {
		return body, false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return body, false
	}
	var msgs []json.RawMessage
	if json.Unmarshal(doc["messages"], &msgs) != nil {
		return body, false
	}
	changed := false
	for i, raw := range msgs {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		var blocks []json.RawMessage
		if json.Unmarshal(m["content"], &blocks) != nil {
			continue
		}
		kept := blocks[:0:0]
		for _, b := range blocks {
			var blk struct {
				Type      string  `json:"type"`
				Signature *string `json:"signature"`
			}
			if json.Unmarshal(b, &blk) == nil && blk.Type == "thinking" && (blk.Signature == nil || *blk.Signature == "") {
				continue
			}
			kept = append(kept, b)
		}
		if len(kept) == len(blocks) {
			continue
		}
		if len(kept) == 0 {
			// A turn of nothing but unsigned reasoning says nothing.
			kept = append(kept, json.RawMessage(`{"type":"text","text":"…"}`))
		}
		m["content"], _ = json.Marshal(kept)
		msgs[i], _ = json.Marshal(m)
		changed = true
	}
	if !changed {
		return body, false
	}
	doc["messages"], _ = json.Marshal(msgs)
	out, err := json.Marshal(doc)
	if err != nil {
		return body, false
	}
	return out, true
}

// unsignedMarker is a cheap look for an empty or missing signature before
// the body is parsed.
func unsignedMarker(body []byte) bool {
	return bytes.Contains(body, []byte(`"signature":""`)) || bytes.Contains(body, []byte(`"signature": ""`)) ||
		!bytes.Contains(body, []byte(`"signature"`))
}
