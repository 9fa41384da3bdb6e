package dialect

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// streamBody is a 20-chunk upstream stream with a usage chunk.
func streamBody() []byte {
	var b bytes.Buffer
	for range 20 {
		b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"the quick brown "},"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":20,"total_tokens":23}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// BenchmarkSSEScan measures splitting an upstream stream into events.
func BenchmarkSSEScan(b *testing.B) {
	body := streamBody()
	br := bufio.NewReaderSize(nil, 4<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(bytes.NewReader(body))
		s := &SSEReader{r: br}
		n := 0
		for {
			_, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 23 {
			b.Fatalf("%d events", n)
		}
	}
}
