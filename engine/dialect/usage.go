package dialect

// Usage is token usage, counted the same way whatever the dialect:
// Prompt holds every input token (cache reads and writes included, as
// OpenAI counts them), Completion every output token (reasoning
// included).
type Usage struct {
	Prompt     int64
	Completion int64
	Total      int64
	Cached     int64 // of Prompt: read from a prompt cache
	CacheWrite int64 // of Prompt: written to a prompt cache (Anthropic)
	Reasoning  int64 // of Completion: reasoning tokens
}

// Add sums usage reports.
func (u *Usage) Add(v Usage) {
	u.Prompt += v.Prompt
	u.Completion += v.Completion
	u.Total += v.Total
	u.Cached += v.Cached
	u.CacheWrite += v.CacheWrite
	u.Reasoning += v.Reasoning
}

// usageDoc reads the usage object of any dialect: chat's prompt_tokens
// and completion_tokens, Responses' input_tokens and output_tokens (input
// includes cached tokens) and Anthropic's input_tokens, output_tokens and
// cache_*_input_tokens (input excludes them).
type usageDoc struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	InputTokens         int64 `json:"input_tokens"`
	OutputTokens        int64 `json:"output_tokens"`
	CacheRead           int64 `json:"cache_read_input_tokens"`
	CacheCreation       int64 `json:"cache_creation_input_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

func (d *usageDoc) usage() Usage {
	u := Usage{
		Prompt:     d.PromptTokens + d.InputTokens + d.CacheRead + d.CacheCreation,
		Completion: d.CompletionTokens + d.OutputTokens,
		Total:      d.TotalTokens,
		Cached:     d.PromptTokensDetails.CachedTokens + d.InputTokensDetails.CachedTokens + d.CacheRead,
		CacheWrite: d.CacheCreation,
		Reasoning:  d.CompletionTokensDetails.ReasoningTokens + d.OutputTokensDetails.ReasoningTokens,
	}
	if u.Total == 0 {
		u.Total = u.Prompt + u.Completion
	}
	return u
}

// ParseUsage decodes the usage object at span of data.
func ParseUsage(data []byte, span Span) Usage {
	if !span.Present() {
		return Usage{}
	}
	var r jsonReader
	r.reset(data[span.Start:span.End])
	u := readUsage(&r)
	if r.done(); r.err != nil {
		return Usage{}
	}
	return u
}

// ResponseUsage finds usage in a Responses API event that carries the
// response object ("response.completed" and its kin).
func ResponseUsage(data []byte) Usage {
	var r jsonReader
	r.reset(data)
	var u Usage
	if !r.object() {
		return Usage{}
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		if string(k) != "response" || r.kind() != '{' {
			r.skip()
			continue
		}
		r.object()
		for first := true; ; first = false {
			k, ok := r.member(first)
			if !ok {
				break
			}
			if string(k) == "usage" {
				u = readUsage(&r)
			} else {
				r.skip()
			}
		}
	}
	if r.done(); r.err != nil {
		return Usage{}
	}
	return u
}
