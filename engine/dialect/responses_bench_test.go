package dialect

import (
	"testing"
)

// The Responses codec's request and answer, on the bodies the load
// benchmark sends (bench/cmd/load: a system prompt and one question) and
// on Codex's (captures with its tools and a turn of history).

// benchRespSmall is the load benchmark's Responses request (416 bytes).
const benchRespSmall = `{"input":[{"content":[{"text":"Explain in one paragraph why a proxy in front of every LLM call must cost next to nothing, and name three things that keep a Go reverse proxy cheap.","type":"input_text"}],"role":"user"}],"instructions":"You are a helpful assistant. Answer briefly and precisely.","max_output_tokens":256,"model":"default","store":false,"temperature":0.7}`

// benchRespBodies are the bodies the request benchmarks decode, compact
// as clients send them.
func benchRespBodies(b *testing.B) []struct {
	name string
	body []byte
} {
	bodies := []struct {
		name string
		body []byte
	}{{"small", []byte(benchRespSmall)}}
	for _, name := range []string{"features", "codex-baseline-turn2", "codex-lite-turn2"} {
		bodies = append(bodies, struct {
			name string
			body []byte
		}{name, readBench(b, "testdata/responses/"+name+".request.json")})
	}
	return bodies
}

// BenchmarkResponsesRequest decodes each body.
func BenchmarkResponsesRequest(b *testing.B) {
	for _, tc := range benchRespBodies(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeResponsesRequest(tc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchRespAnswers are answers as a chat channel returns them: the load
// mock's text for the small request, and for Codex's a turn with
// reasoning, text and three tool calls.
func benchRespAnswers(b *testing.B) []struct {
	name string
	req  *Request
	resp *Response
} {
	small, err := decodeResponsesRequest([]byte(benchRespSmall))
	if err != nil {
		b.Fatal(err)
	}
	codex, err := decodeResponsesRequest(readBench(b, "testdata/responses/codex-baseline-turn2.request.json"))
	if err != nil {
		b.Fatal(err)
	}
	text, err := decodeChatResponse([]byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1764720000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"the quick brown fox jumps over the lazy dog"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":9,"total_tokens":28}}`))
	if err != nil {
		b.Fatal(err)
	}
	tools, err := decodeChatResponse(readBench(b, "testdata/answer/tools.chat.json"))
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		req  *Request
		resp *Response
	}{{"small", small, text}, {"codex", codex, tools}}
}

// BenchmarkResponsesAnswer writes each answer as a Responses object.
func BenchmarkResponsesAnswer(b *testing.B) {
	for _, tc := range benchRespAnswers(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodeResponsesResponse(tc.resp, tc.req)
			}
		})
	}
}

// BenchmarkRatioRequestResponsesToChat: the load benchmark's request,
// checked and translated for a chat channel, against its passthrough.
func BenchmarkRatioRequestResponsesToChat(b *testing.B) {
	body := []byte(benchRespSmall)
	pairedRatio(b, bodyRunner(b, body), func() {
		ScanObject(body)
		req, err := decodeResponsesRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		encodeChatRequest(req, "upstream-model")
	})
}

// BenchmarkRatioRequestResponsesToMessages: the same, for a Messages
// channel.
func BenchmarkRatioRequestResponsesToMessages(b *testing.B) {
	body := []byte(benchRespSmall)
	pairedRatio(b, bodyRunner(b, body), func() {
		ScanObject(body)
		req, err := decodeResponsesRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		encodeMessagesRequest(req, "upstream-model")
	})
}

// BenchmarkRatioAnswerChatToResponses: a chat channel's answer to the
// load benchmark's request, written for the Responses client, against
// relaying the answer as it is.
func BenchmarkRatioAnswerChatToResponses(b *testing.B) {
	req, err := decodeResponsesRequest([]byte(benchRespSmall))
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1764720000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"the quick brown fox jumps over the lazy dog"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":9,"total_tokens":28}}`)
	var out []byte
	pairedRatio(b, func() {
		info, err := ScanObject(body)
		if err != nil {
			b.Fatal(err)
		}
		ParseUsage(body, info.Usage)
		out = append(out[:0], body...)
	}, func() {
		ScanObject(body)
		resp, err := decodeChatResponse(body)
		if err != nil {
			b.Fatal(err)
		}
		encodeResponsesResponse(resp, req)
	})
}
