package dialect

import (
	"strings"
	"testing"
)

// benchBody is a typical chat request: a system prompt, a few turns.
var benchBody = []byte(`{"model":"gpt-4o-pool","temperature":0.7,"stream":false,"messages":[` +
	`{"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources when you can."},` +
	`{"role":"user","content":"` + strings.Repeat("What is the capital of France? ", 20) + `"},` +
	`{"role":"assistant","content":"Paris is the capital of France."},` +
	`{"role":"user","content":"And of Germany? Answer with one word, \"Berlin\" or not."}],"max_tokens":256}`)

// BenchmarkScanObject measures finding model and stream in a request body
// without decoding it.
func BenchmarkScanObject(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		info, err := ScanObject(benchBody)
		if err != nil || info.Model != "gpt-4o-pool" {
			b.Fatal(err, info.Model)
		}
	}
}

// BenchmarkScanChunk measures the per-event check of a stream chunk.
func BenchmarkScanChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-mock000000000002","object":"chat.completion.chunk","created":1795643449,"model":"x","service_tier":"default","system_fingerprint":"fp_mock0001","choices":[{"index":0,"delta":{"content":"the quick brown "},"logprobs":null,"finish_reason":null}]}`)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanObject(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
