package dialect

import "testing"

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Usage
	}{
		{"chat", `{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}`,
			Usage{Prompt: 12, Completion: 5, Total: 17}},
		{"chat with details", `{"prompt_tokens":100,"completion_tokens":40,"total_tokens":140,"prompt_tokens_details":{"cached_tokens":60,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":30}}`,
			Usage{Prompt: 100, Completion: 40, Total: 140, Cached: 60, Reasoning: 30}},
		{"responses", `{"input_tokens":100,"input_tokens_details":{"cached_tokens":20},"output_tokens":9,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":109}`,
			Usage{Prompt: 100, Completion: 9, Total: 109, Cached: 20, Reasoning: 4}},
		{"anthropic: cache tokens are outside input_tokens", `{"input_tokens":10,"cache_read_input_tokens":300,"cache_creation_input_tokens":50,"output_tokens":7}`,
			Usage{Prompt: 360, Completion: 7, Total: 367, Cached: 300, CacheWrite: 50}},
		{"no total: summed", `{"prompt_tokens":3,"completion_tokens":4}`, Usage{Prompt: 3, Completion: 4, Total: 7}},
		{"integral floats", `{"prompt_tokens":3.0,"completion_tokens":4e0}`, Usage{Prompt: 3, Completion: 4, Total: 7}},
		{"nulls and unknown members", `{"prompt_tokens":null,"completion_tokens":2,"prompt_tokens_details":null,"x":{"y":[1,"z"]}}`,
			Usage{Completion: 2, Total: 2}},
		{"a count that is not a number counts 0", `{"prompt_tokens":"12","completion_tokens":2}`, Usage{Completion: 2, Total: 2}},
		{"negative counts count 0", `{"prompt_tokens":-5,"completion_tokens":2}`, Usage{Completion: 2, Total: 2}},
		{"null", `null`, Usage{}},
		{"not an object", `[1,2]`, Usage{}},
		{"malformed", `{"prompt_tokens":12,`, Usage{}},
		{"trailing bytes", `{"prompt_tokens":12} x`, Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(`{"usage":` + tt.doc + `}`)
			span := Span{Start: len(`{"usage":`), End: len(data) - 1}
			if got := ParseUsage(data, span); got != tt.want {
				t.Errorf("ParseUsage(%s) = %+v, want %+v", tt.doc, got, tt.want)
			}
		})
	}
	if got := ParseUsage([]byte(`{}`), Span{Start: -1, End: -1}); got != (Usage{}) {
		t.Errorf("absent span: %+v", got)
	}
}

func TestResponseUsage(t *testing.T) {
	tests := []struct {
		name string
		data string
		want Usage
	}{
		{"completed", `{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","output":[{"type":"message","content":[{"type":"output_text","text":"usage"}]}],"usage":{"input_tokens":11,"output_tokens":3,"total_tokens":14}}}`,
			Usage{Prompt: 11, Completion: 3, Total: 14}},
		{"usage before the rest", `{"response":{"usage":{"input_tokens":1,"output_tokens":1},"status":"completed"},"type":"response.completed"}`,
			Usage{Prompt: 1, Completion: 1, Total: 2}},
		{"no usage", `{"type":"response.completed","response":{"id":"resp_1","usage":null}}`, Usage{}},
		{"usage outside response is not it", `{"type":"x","usage":{"input_tokens":5},"response":"text"}`, Usage{}},
		{"malformed", `{"response":{"usage":{"input_tokens":5}`, Usage{}},
		{"not an object", `"response"`, Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResponseUsage([]byte(tt.data)); got != tt.want {
				t.Errorf("ResponseUsage = %+v, want %+v", got, tt.want)
			}
		})
	}
}
