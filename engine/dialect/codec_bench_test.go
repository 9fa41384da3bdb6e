package dialect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The budget the codecs are held to: a translated stream may cost at most
// 1.3 times the CPU per event of a passthrough stream, and a translated
// request or answer at most 1.3 times a passthrough one. Passthrough here
// is what the proxy does with every event and body: read it, check it
// with ScanObject, frame it again.

// benchChatStream is a chat stream as gpt-4o sends it: text in small
// pieces, a tool call in pieces, the finish and the usage chunk.
func benchChatStream() []byte {
	var b bytes.Buffer
	head := `data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":`
	b.WriteString(head + `{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	for range 200 {
		b.WriteString(head + `{"content":" the quick brown"},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString(head + `{"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	for range 20 {
		b.WriteString(head + `{"tool_calls":[{"index":0,"function":{"arguments":"{\"loc\": \"Par"}}]},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString(head + `{},"logprobs":null,"finish_reason":"tool_calls"}]}` + "\n\n")
	b.WriteString(`data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_eb9dce56a8","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":410,"total_tokens":429,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// benchMessagesStream is an Anthropic stream: thinking with its
// signature, text in small pieces, a tool call in pieces.
func benchMessagesStream() []byte {
	var b bytes.Buffer
	ev := func(name, data string) {
		b.WriteString("event: " + name + "\ndata: " + data + "\n\n")
	}
	ev("message_start", `{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}`)
	ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`)
	ev("ping", `{"type": "ping"}`)
	for range 40 {
		ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" so I should check"}}`)
	}
	ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}`)
	ev("content_block_stop", `{"type":"content_block_stop","index":0}`)
	ev("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`)
	for range 160 {
		ev("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" the quick brown"}}`)
	}
	ev("content_block_stop", `{"type":"content_block_stop","index":1}`)
	ev("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}`)
	for range 20 {
		ev("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"loc\": \"Par"}}`)
	}
	ev("content_block_stop", `{"type":"content_block_stop","index":2}`)
	ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":410}}`)
	ev("message_stop", `{"type":"message_stop"}`)
	return b.Bytes()
}

func countEvents(body []byte) int {
	return bytes.Count(body, []byte("\n\n"))
}

// benchPassthrough relays a stream as the proxy does when the client and
// the channel speak alike.
func benchPassthrough(b *testing.B, body []byte) {
	events := countEvents(body)
	br := bufio.NewReaderSize(nil, 16<<10)
	var sr SSEReader
	var out []byte
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(bytes.NewReader(body))
		sr.Reset(br)
		for {
			ev, err := sr.Next()
			if err == io.EOF {
				break
			}
			if string(ev.Data) == "[DONE]" {
				out = append(out[:0], "data: [DONE]\n\n"...)
				continue
			}
			if _, err := ScanObject(ev.Data); err != nil {
				b.Fatal(err)
			}
			out = AppendEvent(out[:0], ev.Name, ev.Data)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

// benchTranslate relays a stream through a decoder and an encoder.
func benchTranslate(b *testing.B, body []byte, newDec func() Decoder, newEnc func() Encoder) {
	events := countEvents(body)
	br := bufio.NewReaderSize(nil, 16<<10)
	var sr SSEReader
	var out []byte
	var evs []Event
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(bytes.NewReader(body))
		sr.Reset(br)
		dec, enc := newDec(), newEnc()
		for {
			ev, err := sr.Next()
			if err == io.EOF {
				break
			}
			evs, err = dec.Decode(ev.Name, ev.Data, evs[:0])
			if err != nil {
				b.Fatal(err)
			}
			out = out[:0]
			for i := range evs {
				out = enc.Encode(out, &evs[i])
			}
		}
		if evs, err := dec.End(evs[:0]); err != nil || len(evs) != 0 {
			b.Fatal(err, evs)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

func BenchmarkStreamChatPassthrough(b *testing.B) { benchPassthrough(b, benchChatStream()) }

func BenchmarkStreamChatToMessages(b *testing.B) {
	benchTranslate(b, benchChatStream(), func() Decoder { return &chatDecoder{} }, func() Encoder { return &messagesEncoder{} })
}

func BenchmarkStreamMessagesPassthrough(b *testing.B) { benchPassthrough(b, benchMessagesStream()) }

func BenchmarkStreamMessagesToChat(b *testing.B) {
	benchTranslate(b, benchMessagesStream(), func() Decoder { return &messagesDecoder{} },
		func() Encoder { return &chatEncoder{includeUsage: true, clock: func() int64 { return 1 }} })
}

// benchBody passes a body through as the proxy does: check it, splice the
// channel's model in.
func benchBodyPassthrough(b *testing.B, body []byte) {
	var out []byte
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		info, err := ScanObject(body)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out[:0], body[:info.ModelSpan.Start]...)
		out = strconv.AppendQuote(out, "upstream-model")
		out = append(out, body[info.ModelSpan.End:]...)
	}
}

// readBench reads a fixture, compact as SDKs send their bodies.
func readBench(b *testing.B, name string) []byte {
	body, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkRequestPassthrough: a real Claude Code request, passed through.
func BenchmarkRequestPassthrough(b *testing.B) {
	benchBodyPassthrough(b, readBench(b, "testdata/req/cc-tool-result.messages.json"))
}

// BenchmarkRequestMessagesToChat: the same request, checked and translated
// for a chat channel.
func BenchmarkRequestMessagesToChat(b *testing.B) {
	body := readBench(b, "testdata/req/cc-tool-result.messages.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanObject(body); err != nil {
			b.Fatal(err)
		}
		req, err := decodeMessagesRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := encodeChatRequest(req, "upstream-model"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestChatToMessages: a chat request with tools and history,
// translated for a Messages channel.
func BenchmarkRequestChatToMessages(b *testing.B) {
	body := readBench(b, "testdata/req/chat-tools.chat.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanObject(body); err != nil {
			b.Fatal(err)
		}
		req, err := decodeChatRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := encodeMessagesRequest(req, "upstream-model"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestChatPassthrough(b *testing.B) {
	benchBodyPassthrough(b, readBench(b, "testdata/req/chat-tools.chat.json"))
}

func BenchmarkAnswerChatPassthrough(b *testing.B) {
	benchAnswerPassthrough(b, readBench(b, "testdata/answer/tools.chat.json"))
}

func BenchmarkAnswerChatToMessages(b *testing.B) {
	body := readBench(b, "testdata/answer/tools.chat.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanObject(body); err != nil {
			b.Fatal(err)
		}
		resp, err := decodeChatResponse(body)
		if err != nil {
			b.Fatal(err)
		}
		encodeMessagesResponse(resp)
	}
}

func BenchmarkAnswerMessagesPassthrough(b *testing.B) {
	benchAnswerPassthrough(b, readBench(b, "testdata/answer/tools.messages.json"))
}

func BenchmarkAnswerMessagesToChat(b *testing.B) {
	body := readBench(b, "testdata/answer/tools.messages.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanObject(body); err != nil {
			b.Fatal(err)
		}
		resp, err := decodeMessagesResponse(body)
		if err != nil {
			b.Fatal(err)
		}
		resp.Created = 1
		encodeChatResponse(resp)
	}
}

// benchAnswerPassthrough checks an answer and finds its usage, as the
// proxy does with an answer it relays.
func benchAnswerPassthrough(b *testing.B, body []byte) {
	var out []byte
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		info, err := ScanObject(body)
		if err != nil {
			b.Fatal(err)
		}
		ParseUsage(body, info.Usage)
		out = append(out[:0], body...)
	}
}

// pairedRatio runs a passthrough and its translation in turn, many times,
// and reports how much longer the translation takes (the ratio of the
// medians): on a busy machine both halves see the same load, so the
// ratio holds where absolute times do not.
func pairedRatio(b *testing.B, passthrough, translated func()) {
	var tp, tt []time.Duration
	for b.Loop() {
		t0 := time.Now()
		passthrough()
		t1 := time.Now()
		translated()
		t2 := time.Now()
		tp = append(tp, t1.Sub(t0))
		tt = append(tt, t2.Sub(t1))
	}
	slices.Sort(tp)
	slices.Sort(tt)
	b.ReportMetric(float64(tt[len(tt)/2])/float64(tp[len(tp)/2]), "x-passthrough")
}

func streamRunner(b *testing.B, body []byte, newDec func() Decoder, newEnc func() Encoder) func() {
	br := bufio.NewReaderSize(nil, 16<<10)
	var sr SSEReader
	var out []byte
	var evs []Event
	return func() {
		br.Reset(bytes.NewReader(body))
		sr.Reset(br)
		var dec Decoder
		var enc Encoder
		if newDec != nil {
			dec, enc = newDec(), newEnc()
		}
		for {
			ev, err := sr.Next()
			if err == io.EOF {
				return
			}
			if dec == nil {
				if string(ev.Data) == "[DONE]" {
					continue
				}
				if _, err := ScanObject(ev.Data); err != nil {
					b.Fatal(err)
				}
				out = AppendEvent(out[:0], ev.Name, ev.Data)
				continue
			}
			evs, _ = dec.Decode(ev.Name, ev.Data, evs[:0])
			out = out[:0]
			for i := range evs {
				out = enc.Encode(out, &evs[i])
			}
		}
	}
}

// BenchmarkRatio* report the translation's cost as a multiple of the
// passthrough's (the budget is 1.3).
func BenchmarkRatioStreamChatToMessages(b *testing.B) {
	body := benchChatStream()
	pairedRatio(b, streamRunner(b, body, nil, nil),
		streamRunner(b, body, func() Decoder { return &chatDecoder{} }, func() Encoder { return &messagesEncoder{} }))
}

func BenchmarkRatioStreamMessagesToChat(b *testing.B) {
	body := benchMessagesStream()
	pairedRatio(b, streamRunner(b, body, nil, nil),
		streamRunner(b, body, func() Decoder { return &messagesDecoder{} },
			func() Encoder { return &chatEncoder{includeUsage: true, clock: func() int64 { return 1 }} }))
}

func bodyRunner(b *testing.B, body []byte) func() {
	var out []byte
	return func() {
		info, err := ScanObject(body)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out[:0], body[:info.ModelSpan.Start]...)
		out = strconv.AppendQuote(out, "upstream-model")
		out = append(out, body[info.ModelSpan.End:]...)
	}
}

func BenchmarkRatioRequestMessagesToChat(b *testing.B) {
	body := readBench(b, "testdata/req/cc-tool-result.messages.json")
	pairedRatio(b, bodyRunner(b, body), func() {
		ScanObject(body)
		req, err := decodeMessagesRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		encodeChatRequest(req, "upstream-model")
	})
}

func BenchmarkRatioRequestChatToMessages(b *testing.B) {
	body := readBench(b, "testdata/req/chat-tools.chat.json")
	pairedRatio(b, bodyRunner(b, body), func() {
		ScanObject(body)
		req, err := decodeChatRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		encodeMessagesRequest(req, "upstream-model")
	})
}
