package dialect

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The chat completions codec: chat clients over Messages channels (the
// request is decoded here, the answer encoded here), and Messages and
// Responses clients over chat channels (the request is encoded here, the
// answer decoded here).

// maxTokenLimit bounds max_tokens on a translated route: no model answers
// a million tokens, and a larger value is a client bug worth a clear 400.
const maxTokenLimit = 1 << 20

// maxToolCalls bounds the tool call indexes a chat stream may use, so a
// hostile upstream cannot make the decoder allocate without limit.
const maxToolCalls = 1024

// at names element i of an array; for error messages only.
func at(base string, i int) string { return base + "[" + strconv.Itoa(i) + "]" }

// ---------------------------------------------------------------- request

// decodeChatRequest reads a chat completions request for a channel that
// speaks another dialect. The Request's raw JSON (tool schemas, the
// response format) aliases body.
func decodeChatRequest(body []byte) (*Request, error) {
	var r jsonReader
	r.reset(body)
	req := &Request{}
	if !r.object() {
		return nil, r.fieldErr("")
	}
	var (
		n, maxTokens, maxCompletion int64
		sawMessages                 bool
		allowed                     []string
	)
	n = 1
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		var err *Error
		switch string(key) {
		case "model":
			req.Model = r.str()
		case "messages":
			sawMessages = true
			err = decodeChatMessages(&r, req)
		case "tools":
			err = decodeChatTools(&r, req)
		case "tool_choice":
			allowed, err = decodeChatToolChoice(&r, req)
		case "parallel_tool_calls":
			if !r.null() {
				p := r.boolean()
				req.Parallel = &p
			}
		case "max_tokens":
			if !r.null() {
				maxTokens = r.int()
				err = checkMaxTokens("max_tokens", maxTokens)
			}
		case "max_completion_tokens":
			if !r.null() {
				maxCompletion = r.int()
				err = checkMaxTokens("max_completion_tokens", maxCompletion)
			}
		case "stop":
			err = decodeChatStop(&r, req)
		case "temperature":
			req.Temperature = r.floatPtr()
		case "top_p":
			req.TopP = r.floatPtr()
		case "stream":
			if !r.null() {
				req.Stream = r.boolean()
			}
		case "stream_options":
			if !r.null() && r.object() {
				for first := true; ; first = false {
					k, ok := r.member(first)
					if !ok {
						break
					}
					if string(k) == "include_usage" && !r.null() {
						req.IncludeUsage = r.boolean()
					} else {
						r.skip()
					}
				}
			}
		case "reasoning_effort":
			if !r.null() {
				err = decodeChatEffort(r.str(), &req.Reasoning)
			}
		case "response_format":
			err = decodeChatFormat(&r, req)
		case "user":
			req.User = r.str()
		case "n":
			if !r.null() {
				n = r.int()
			}
		case "audio":
			if !r.null() {
				r.skip()
				err = fieldError("audio", "audio output cannot be produced on this route")
			}
		case "modalities":
			err = decodeChatModalities(&r)
		case "functions", "function_call":
			if !r.null() {
				r.skip()
				err = fieldError(string(key), "the legacy function calling fields are not supported on this route; use tools and tool_choice")
			}
		case "web_search_options":
			if !r.null() {
				r.skip()
				req.Dropped = append(req.Dropped, "web_search_options")
			}
		default:
			// Advisory and vendor fields (seed, penalties, logit_bias,
			// logprobs, store, metadata, service_tier, prompt_cache_key,
			// verbosity, ...): no other dialect can honour them, and
			// leaving them out does not change what the answer means.
			r.skip()
		}
		if err != nil {
			return nil, err
		}
		if r.err != nil {
			return nil, r.fieldErr(string(key))
		}
	}
	if r.done(); r.err != nil {
		return nil, r.fieldErr("")
	}
	if n != 1 {
		return nil, fieldError("n", "only one choice (n=1) can be served when the channel speaks another dialect")
	}
	if !sawMessages || !hasContent(req) {
		return nil, fieldError("messages", "must hold at least one message with content")
	}
	req.MaxTokens = int(maxTokens)
	if maxCompletion > 0 {
		req.MaxTokens = int(maxCompletion)
	}
	if allowed != nil {
		req.Tools = keepTools(req.Tools, allowed)
	}
	return req, nil
}

// hasContent reports a request with something to send: a translated
// request with nothing in it would only earn an upstream's 400.
func hasContent(r *Request) bool {
	if hasText(r.System) {
		return true
	}
	for i := range r.Messages {
		for j := range r.Messages[i].Content {
			if b := &r.Messages[i].Content[j]; b.Kind != Text || b.Text != "" {
				return true
			}
		}
	}
	return false
}

func checkMaxTokens(name string, v int64) *Error {
	if v < 1 || v > maxTokenLimit {
		return fieldError(name, "must be between 1 and %d", maxTokenLimit)
	}
	return nil
}

// keepTools keeps the tools named in allowed (tool_choice allowed_tools).
func keepTools(tools []Tool, allowed []string) []Tool {
	out := tools[:0]
	for _, t := range tools {
		for _, a := range allowed {
			if t.Name == a {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// chatMessage is one chat message while it is read: its fields may come in
// any order, so the role is known only at its end.
type chatMessage struct {
	role       string
	content    []Block
	image      int // index of the first image part, -1: none
	refusal    int // index of the first refusal part, -1: none
	toolCalls  []Block
	toolCallID string
	hasCallID  bool
	reasoning  string
}

func decodeChatMessages(r *jsonReader, req *Request) *Error {
	if r.null() {
		return nil
	}
	if !r.array() {
		return r.fieldErr("messages")
	}
	sawTurn := false
	toolTurn := -1 // the user turn collecting consecutive tool messages
	root := fieldPath{name: "messages"}
	req.Messages = make([]Message, 0, 8)
	for i, first := 0, true; r.elem(first); i, first = i+1, false {
		mp := root.at(i)
		m, err := decodeChatMessage(r, &mp)
		if err != nil {
			return err
		}
		switch m.role {
		case "system", "developer":
			if m.image >= 0 {
				return fieldError(mp.fieldAt("content", m.image), "a %s message can hold only text", m.role)
			}
			toolTurn = -1
			if len(m.content) == 0 {
				continue
			}
			if !sawTurn {
				req.System = append(req.System, m.content...)
			} else {
				req.Messages = append(req.Messages, Message{Role: System, Content: m.content})
			}
		case "user":
			sawTurn, toolTurn = true, -1
			req.Messages = append(req.Messages, Message{Role: User, Content: m.content})
		case "assistant":
			if m.image >= 0 {
				return fieldError(mp.fieldAt("content", m.image), "an assistant message cannot hold images")
			}
			sawTurn, toolTurn = true, -1
			blocks := make([]Block, 0, 1+len(m.content)+len(m.toolCalls))
			if m.reasoning != "" {
				blocks = append(blocks, Block{Kind: Thinking, Text: m.reasoning})
			}
			blocks = append(blocks, m.content...)
			blocks = append(blocks, m.toolCalls...)
			req.Messages = append(req.Messages, Message{Role: Assistant, Content: blocks})
		case "tool":
			if !m.hasCallID {
				return fieldError(mp.sub("tool_call_id"), "is required for a tool message")
			}
			sawTurn = true
			res := Block{Kind: ToolResult, ID: m.toolCallID, Content: m.content}
			if toolTurn >= 0 {
				t := &req.Messages[toolTurn]
				t.Content = append(t.Content, res)
			} else {
				req.Messages = append(req.Messages, Message{Role: User, Content: []Block{res}})
				toolTurn = len(req.Messages) - 1
			}
		case "":
			return fieldError(mp.sub("role"), "is required")
		default:
			return fieldError(mp.sub("role"), "%q cannot be served on this route (use system, developer, user, assistant or tool)", m.role)
		}
		if m.refusal >= 0 && m.role != "assistant" {
			return fieldError(mp.fieldAt("content", m.refusal), "only an assistant message can hold a refusal")
		}
		if len(m.toolCalls) > 0 && m.role != "assistant" {
			return fieldError(mp.sub("tool_calls"), "only an assistant message can hold tool calls")
		}
	}
	if r.err != nil {
		return r.fieldErr("messages")
	}
	return nil
}

func decodeChatMessage(r *jsonReader, mp *fieldPath) (chatMessage, *Error) {
	m := chatMessage{image: -1, refusal: -1}
	if !r.object() {
		return m, r.fieldErr(mp.String())
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		var err *Error
		switch string(key) {
		case "role":
			m.role = r.known("system", "developer", "user", "assistant", "tool")
		case "content":
			cp := mp.key("content")
			err = decodeChatContent(r, &m, &cp)
		case "tool_calls":
			tp := mp.key("tool_calls")
			m.toolCalls, err = decodeChatToolCalls(r, &tp)
		case "tool_call_id":
			m.toolCallID, m.hasCallID = r.str(), true
		case "refusal":
			if s := r.str(); s != "" {
				m.content = append(m.content, Block{Kind: Text, Text: s})
				if m.refusal < 0 {
					m.refusal = len(m.content) - 1
				}
			}
		case "reasoning_content", "reasoning":
			// DeepSeek's and OpenRouter's field for the reasoning of an
			// earlier answer; only a string is reasoning text.
			if r.kind() == '"' {
				m.reasoning = r.str()
			} else {
				r.skip()
			}
		case "function_call":
			if !r.null() {
				r.skip()
				err = fieldError(mp.sub("function_call"), "the legacy function calling fields are not supported on this route; use tool_calls")
			}
		default: // name, audio (a reference to an earlier audio answer), ...
			r.skip()
		}
		if err != nil {
			return m, err
		}
		if r.err != nil {
			return m, r.fieldErr(mp.sub(string(key)))
		}
	}
	return m, nil
}

// decodeChatContent reads a message's content: a string or an array of
// parts.
func decodeChatContent(r *jsonReader, m *chatMessage, path *fieldPath) *Error {
	switch r.kind() {
	case 'n':
		r.null()
		return nil
	case '"':
		if s := r.str(); s != "" {
			m.content = append(m.content, Block{Kind: Text, Text: s})
		}
		return nil
	}
	if !r.array() {
		return r.fieldErr(path.String())
	}
	for j, first := 0, true; r.elem(first); j, first = j+1, false {
		p := path.at(j)
		if !r.object() {
			return r.fieldErr(p.String())
		}
		var typ, text, url string
		var hasURL bool
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(key) {
			case "type":
				typ = r.known("text", "image_url", "refusal", "input_audio", "file")
			case "text", "refusal":
				text = r.str()
			case "image_url":
				hasURL = true
				if r.kind() == '"' {
					url = r.str()
					break
				}
				if r.null() || !r.object() {
					break
				}
				for first := true; ; first = false {
					k, ok := r.member(first)
					if !ok {
						break
					}
					if string(k) == "url" {
						url = r.str()
					} else {
						r.skip()
					}
				}
			default:
				r.skip()
			}
			if r.err != nil {
				return r.fieldErr(p.sub(string(key)))
			}
		}
		switch typ {
		case "text":
			if text != "" {
				m.content = append(m.content, Block{Kind: Text, Text: text})
			}
		case "refusal":
			if text != "" {
				m.content = append(m.content, Block{Kind: Text, Text: text})
				if m.refusal < 0 {
					m.refusal = len(m.content) - 1
				}
			}
		case "image_url":
			if !hasURL || url == "" {
				ip := p.key("image_url")
				return fieldError(ip.sub("url"), "is required")
			}
			m.content = append(m.content, Block{Kind: Image, URL: url})
			if m.image < 0 {
				m.image = len(m.content) - 1
			}
		case "input_audio", "file":
			return fieldError(p.sub("type"), "%s parts cannot be sent to this channel", typ)
		case "":
			return fieldError(p.sub("type"), "is required")
		default:
			return fieldError(p.sub("type"), "unknown content part type %q", typ)
		}
	}
	if r.err != nil {
		return r.fieldErr(path.String())
	}
	return nil
}

func decodeChatToolCalls(r *jsonReader, path *fieldPath) ([]Block, *Error) {
	if r.null() {
		return nil, nil
	}
	if !r.array() {
		return nil, r.fieldErr(path.String())
	}
	var calls []Block
	for j, first := 0, true; r.elem(first); j, first = j+1, false {
		p := path.at(j)
		if !r.object() {
			return nil, r.fieldErr(p.String())
		}
		var typ string
		b := Block{Kind: ToolCall}
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(key) {
			case "id":
				b.ID = r.str()
			case "type":
				typ = r.known("function", "custom")
			case "function", "custom":
				b.Custom = string(key) == "custom"
				if r.null() || !r.object() {
					break
				}
				for first := true; ; first = false {
					k, ok := r.member(first)
					if !ok {
						break
					}
					switch string(k) {
					case "name":
						b.Name = r.str()
					case "arguments", "input":
						if r.kind() == '"' {
							b.Input = r.str()
						} else if !r.null() {
							b.Input = string(r.raw()) // a client that sent an object
						}
					default:
						r.skip()
					}
				}
			default:
				r.skip()
			}
			if r.err != nil {
				return nil, r.fieldErr(p.sub(string(key)))
			}
		}
		switch {
		case typ != "" && typ != "function" && typ != "custom":
			return nil, fieldError(p.sub("type"), "unknown tool call type %q", typ)
		case b.ID == "":
			return nil, fieldError(p.sub("id"), "is required")
		case b.Name == "":
			return nil, fieldError(p.sub("function")+".name", "is required")
		}
		calls = append(calls, b)
	}
	if r.err != nil {
		return nil, r.fieldErr(path.String())
	}
	return calls, nil
}

func decodeChatTools(r *jsonReader, req *Request) *Error {
	if r.null() {
		return nil
	}
	if !r.array() {
		return r.fieldErr("tools")
	}
	root := fieldPath{name: "tools"}
	req.Tools = make([]Tool, 0, 8)
	for i, first := 0, true; r.elem(first); i, first = i+1, false {
		p := root.at(i)
		if !r.object() {
			return r.fieldErr(p.String())
		}
		var typ string
		var t Tool
		var sawDef bool
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(key) {
			case "type":
				typ = r.known("function", "custom")
			case "function", "custom":
				sawDef = true
				t.Custom = string(key) == "custom"
				if r.null() || !r.object() {
					break
				}
				for first := true; ; first = false {
					k, ok := r.member(first)
					if !ok {
						break
					}
					switch string(k) {
					case "name":
						t.Name = r.str()
					case "description":
						t.Description = r.str()
					case "parameters":
						if !r.null() {
							if r.kind() != '{' {
								r.kindError(errWantObject)
							}
							t.Schema = r.raw()
						}
					case "format":
						if !r.null() {
							t.Format = r.raw()
						}
					default: // strict
						r.skip()
					}
					if r.err != nil {
						return r.fieldErr(p.sub(string(key)) + "." + string(k))
					}
				}
			default:
				r.skip()
			}
			if r.err != nil {
				return r.fieldErr(p.sub(string(key)))
			}
		}
		if typ != "" && typ != "function" && typ != "custom" {
			// A tool only the vendor's servers run (web search, ...).
			req.Dropped = append(req.Dropped, p.String()+" ("+typ+")")
			continue
		}
		if !sawDef || t.Name == "" {
			return fieldError(p.sub("function")+".name", "is required")
		}
		if typ == "custom" {
			t.Custom = true
		}
		if t.Custom {
			t.Schema = nil
		}
		req.Tools = append(req.Tools, t)
	}
	if r.err != nil {
		return r.fieldErr("tools")
	}
	return nil
}

// decodeChatToolChoice reads tool_choice; for allowed_tools it returns the
// names the model may call (the caller keeps only those tools).
func decodeChatToolChoice(r *jsonReader, req *Request) ([]string, *Error) {
	switch r.kind() {
	case 'n':
		r.null()
		return nil, nil
	case '"':
		switch s := r.str(); s {
		case "auto":
			req.Choice = ToolChoice{Mode: ChoiceAuto, Set: true}
		case "required":
			req.Choice = ToolChoice{Mode: ChoiceAny, Set: true}
		case "none":
			req.Choice = ToolChoice{Mode: ChoiceNone, Set: true}
		default:
			return nil, fieldError("tool_choice", "unknown value %q", s)
		}
		return nil, nil
	}
	if !r.object() {
		return nil, r.fieldErr("tool_choice")
	}
	var typ, name, mode string
	var allowed []string
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			typ = r.str()
		case "function", "custom":
			name = readName(r)
		case "allowed_tools":
			if r.null() || !r.object() {
				break
			}
			allowed = []string{}
			for first := true; ; first = false {
				k, ok := r.member(first)
				if !ok {
					break
				}
				switch string(k) {
				case "mode":
					mode = r.str()
				case "tools":
					if r.null() || !r.array() {
						break
					}
					for first := true; r.elem(first); first = false {
						if !r.object() {
							break
						}
						for first := true; ; first = false {
							k, ok := r.member(first)
							if !ok {
								break
							}
							if string(k) == "function" || string(k) == "custom" {
								if n := readName(r); n != "" {
									allowed = append(allowed, n)
								}
							} else {
								r.skip()
							}
						}
					}
				default:
					r.skip()
				}
			}
		default:
			r.skip()
		}
		if r.err != nil {
			return nil, r.fieldErr("tool_choice." + string(key))
		}
	}
	switch typ {
	case "function", "custom":
		if name == "" {
			return nil, fieldError("tool_choice."+typ+".name", "is required")
		}
		req.Choice = ToolChoice{Mode: ChoiceTool, Name: name, Set: true}
	case "allowed_tools":
		req.Choice = ToolChoice{Mode: ChoiceAuto, Set: true}
		if mode == "required" {
			req.Choice.Mode = ChoiceAny
		}
		return allowed, nil
	default:
		return nil, fieldError("tool_choice.type", "unknown value %q", typ)
	}
	return nil, nil
}

// readName reads an object's "name" member ({"name": "..."}).
func readName(r *jsonReader) string {
	var name string
	if r.null() || !r.object() {
		return ""
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		if string(k) == "name" {
			name = r.str()
		} else {
			r.skip()
		}
	}
	return name
}

func decodeChatStop(r *jsonReader, req *Request) *Error {
	switch r.kind() {
	case 'n':
		r.null()
	case '"':
		if s := r.str(); s != "" {
			req.Stop = append(req.Stop, s)
		}
	default:
		if !r.array() {
			return r.fieldErr("stop")
		}
		for i, first := 0, true; r.elem(first); i, first = i+1, false {
			if r.kind() != '"' {
				r.kindError(errWantString)
				return r.fieldErr(at("stop", i))
			}
			if s := r.str(); s != "" {
				req.Stop = append(req.Stop, s)
			}
		}
	}
	return nil
}

func decodeChatEffort(s string, out *Reasoning) *Error {
	switch s {
	case "none":
		out.Off = true
	case "minimal", "low", "medium", "high", "xhigh":
		out.Effort = s
	default:
		return fieldError("reasoning_effort", "unknown value %q", s)
	}
	return nil
}

func decodeChatFormat(r *jsonReader, req *Request) *Error {
	if r.null() {
		return nil
	}
	if !r.object() {
		return r.fieldErr("response_format")
	}
	var typ string
	var schema []byte
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			typ = r.str()
		case "json_schema":
			if !r.null() {
				if r.kind() != '{' {
					r.kindError(errWantObject)
				}
				schema = r.raw()
			}
		default:
			r.skip()
		}
		if r.err != nil {
			return r.fieldErr("response_format." + string(key))
		}
	}
	switch typ {
	case "text", "":
	case "json_object":
		req.JSONObject = true
	case "json_schema":
		if schema == nil {
			return fieldError("response_format.json_schema", "is required")
		}
		req.Format = schema
	default:
		return fieldError("response_format.type", "unknown value %q", typ)
	}
	return nil
}

func decodeChatModalities(r *jsonReader) *Error {
	if r.null() {
		return nil
	}
	if !r.array() {
		return r.fieldErr("modalities")
	}
	for first := true; r.elem(first); first = false {
		if s := r.str(); s != "text" && r.err == nil {
			return fieldError("modalities", "only text output can be produced on this route")
		}
	}
	return nil
}

// encodeChatRequest writes r for a chat channel. Thinking is dropped (a
// chat upstream cannot check Anthropic's signatures); tool results become
// tool messages right after the assistant message that called them.
func encodeChatRequest(r *Request, model string) ([]byte, error) {
	b := make([]byte, 0, sizeHint(r))
	b = append(b, `{"model":`...)
	b = appendStr(b, model)
	b = append(b, `,"messages":[`...)
	w := chatWriter{b: b}
	if hasText(r.System) {
		w.textMessage("system", r.System, "\n\n")
	}
	consumed := -1 // turns up to here had their tool results written
	for i := range r.Messages {
		m := &r.Messages[i]
		switch m.Role {
		case System:
			if hasText(m.Content) {
				w.textMessage("system", m.Content, "\n\n")
			}
		case Assistant:
			w.assistant(m.Content)
			// The tool results answering this turn follow it at once, as
			// chat requires, even when a system turn came in between.
			var images []Block
			for j := i + 1; j < len(r.Messages) && r.Messages[j].Role != Assistant; j++ {
				for k := range r.Messages[j].Content {
					if blk := &r.Messages[j].Content[k]; blk.Kind == ToolResult {
						images = w.toolResult(blk, images)
					}
				}
				consumed = j
			}
			if len(images) > 0 {
				w.user(images)
			}
		default:
			if i > consumed { // tool results with no call before them
				var images []Block
				for k := range m.Content {
					if blk := &m.Content[k]; blk.Kind == ToolResult {
						images = w.toolResult(blk, images)
					}
				}
				if len(images) > 0 {
					w.user(images)
				}
			}
			w.user(m.Content)
		}
	}
	b = append(w.b, ']')

	if len(r.Tools) > 0 {
		b = append(b, `,"tools":[`...)
		for i := range r.Tools {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendChatTool(b, &r.Tools[i])
		}
		b = append(b, ']')
		if r.Choice.Set {
			b = append(b, `,"tool_choice":`...)
			switch r.Choice.Mode {
			case ChoiceAny:
				b = append(b, `"required"`...)
			case ChoiceNone:
				b = append(b, `"none"`...)
			case ChoiceTool:
				b = append(b, `{"type":"function","function":{"name":`...)
				b = appendStr(b, r.Choice.Name)
				b = append(b, `}}`...)
			default:
				b = append(b, `"auto"`...)
			}
		}
		if r.Parallel != nil {
			b = append(b, `,"parallel_tool_calls":`...)
			b = strconv.AppendBool(b, *r.Parallel)
		}
	}
	if r.MaxTokens > 0 {
		b = append(b, `,"max_tokens":`...)
		b = appendInt(b, int64(r.MaxTokens))
	}
	if len(r.Stop) > 0 {
		b = append(b, `,"stop":[`...)
		for i, s := range r.Stop {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, s)
		}
		b = append(b, ']')
	}
	if r.Temperature != nil {
		b = append(b, `,"temperature":`...)
		b = appendFloat(b, *r.Temperature)
	}
	if r.TopP != nil {
		b = append(b, `,"top_p":`...)
		b = appendFloat(b, *r.TopP)
	}
	if effort := chatEffort(r.Reasoning); effort != "" {
		b = append(b, `,"reasoning_effort":`...)
		b = appendStr(b, effort)
	}
	switch {
	case r.Format != nil:
		b = append(b, `,"response_format":{"type":"json_schema","json_schema":`...)
		b = append(b, r.Format...)
		b = append(b, '}')
	case r.JSONObject:
		b = append(b, `,"response_format":{"type":"json_object"}`...)
	}
	if r.User != "" {
		b = append(b, `,"user":`...)
		b = appendStr(b, r.User)
	}
	if r.Stream {
		// Usage is always asked for: stats count tokens on every route.
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(b, '}'), nil
}

// chatEffort is the reasoning_effort for r: the effort asked for, else one
// that fits the thinking budget; none when thinking was turned off.
func chatEffort(r Reasoning) string {
	switch {
	case r.Off:
		return ""
	case r.Effort != "":
		return r.Effort
	case r.Budget <= 0:
		return ""
	case r.Budget < 4096:
		return "low"
	case r.Budget < 16384:
		return "medium"
	}
	return "high"
}

// customSchema is the function schema a custom (free-form) tool becomes.
const customSchema = `{"type":"object","properties":{"input":{"type":"string"}},"required":["input"]}`

// emptySchema is the schema of a tool that takes no input.
const emptySchema = `{"type":"object","properties":{}}`

func appendChatTool(b []byte, t *Tool) []byte {
	b = append(b, `{"type":"function","function":{"name":`...)
	b = appendStr(b, t.Name)
	if desc := toolDescription(t); desc != "" {
		b = append(b, `,"description":`...)
		b = appendStr(b, desc)
	}
	b = append(b, `,"parameters":`...)
	b = append(b, toolSchema(t)...)
	return append(b, `}}`...)
}

// toolDescription is a tool's description; a custom tool's input format
// is told to the model there, as no other dialect has a field for it.
func toolDescription(t *Tool) string {
	if t.Custom && len(t.Format) > 0 && string(t.Format) != "null" {
		return strings.TrimSpace(t.Description + "\n\nThe input is free text in this format: " + string(t.Format))
	}
	return t.Description
}

func toolSchema(t *Tool) []byte {
	switch {
	case t.Custom:
		return []byte(customSchema)
	case len(t.Schema) == 0 || string(t.Schema) == "null":
		return []byte(emptySchema)
	}
	return t.Schema
}

// wrapCustomInput is a custom tool call's input as the arguments of the
// function it became: {"input": text}.
func wrapCustomInput(text string) string {
	b := append([]byte(`{"input":`), appendStr(nil, text)...)
	return string(append(b, '}'))
}

// customText is the text a call of a custom tool carries, from the
// arguments of the function it became upstream ({"input": text}); ok is
// false when the arguments are not of that shape. The Responses encoder
// gives the client its custom_tool_call's input with it.
func customText(args string) (string, bool) {
	var r jsonReader
	r.reset([]byte(args))
	if r.kind() != '{' {
		return "", false
	}
	r.object()
	var text string
	found := false
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		if string(key) == "input" && r.kind() == '"' {
			text, found = r.str(), true
		} else {
			r.skip()
		}
	}
	if r.done(); r.err != nil || !found {
		return "", false
	}
	return text, true
}

// chatWriter writes the messages array.
type chatWriter struct {
	b []byte
	n int // messages written
}

func (w *chatWriter) open(role string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, `{"role":"`...)
	w.b = append(w.b, role...)
	w.b = append(w.b, `","content":`...)
}

// textMessage writes a message whose content is the text of blocks.
func (w *chatWriter) textMessage(role string, blocks []Block, sep string) {
	w.open(role)
	w.b = appendJoinedText(w.b, blocks, sep)
	w.b = append(w.b, '}')
}

// user writes the user blocks of a turn (not its tool results): text as a
// string, or parts when it holds images.
func (w *chatWriter) user(blocks []Block) {
	var text, images int
	for i := range blocks {
		switch blocks[i].Kind {
		case Text:
			if blocks[i].Text != "" {
				text++
			}
		case Image:
			images++
		}
	}
	if text+images == 0 {
		return
	}
	w.open("user")
	if images == 0 {
		w.b = appendJoinedText(w.b, blocks, "\n\n")
		w.b = append(w.b, '}')
		return
	}
	w.b = append(w.b, '[')
	n := 0
	for i := range blocks {
		blk := &blocks[i]
		switch {
		case blk.Kind == Text && blk.Text != "":
		case blk.Kind == Image:
		default:
			continue
		}
		if n > 0 {
			w.b = append(w.b, ',')
		}
		n++
		if blk.Kind == Text {
			w.b = append(w.b, `{"type":"text","text":`...)
			w.b = appendStr(w.b, blk.Text)
			w.b = append(w.b, '}')
			continue
		}
		w.b = append(w.b, `{"type":"image_url","image_url":{"url":`...)
		w.b = appendImageURL(w.b, blk)
		w.b = append(w.b, `}}`...)
	}
	w.b = append(w.b, `]}`...)
}

// appendImageURL writes an image as a URL: its own, or a data URL.
func appendImageURL(b []byte, blk *Block) []byte {
	if blk.URL != "" {
		return appendStr(b, blk.URL)
	}
	b = append(b, `"data:`...)
	b = appendStrBody(b, blk.MediaType)
	b = append(b, `;base64,`...)
	b = appendStrBody(b, blk.Data)
	return append(b, '"')
}

// assistant writes an assistant turn: its text, and its tool calls.
// Thinking is left out: a chat upstream takes no reasoning back.
func (w *chatWriter) assistant(blocks []Block) {
	var text, calls int
	for i := range blocks {
		switch blocks[i].Kind {
		case Text:
			if blocks[i].Text != "" {
				text++
			}
		case ToolCall:
			calls++
		}
	}
	if text+calls == 0 {
		return
	}
	w.open("assistant")
	if text > 0 {
		w.b = appendJoinedText(w.b, blocks, "\n\n")
	} else {
		w.b = append(w.b, `null`...)
	}
	if calls > 0 {
		w.b = append(w.b, `,"tool_calls":[`...)
		n := 0
		for i := range blocks {
			blk := &blocks[i]
			if blk.Kind != ToolCall {
				continue
			}
			if n > 0 {
				w.b = append(w.b, ',')
			}
			n++
			w.b = append(w.b, `{"id":`...)
			w.b = appendStr(w.b, blk.ID)
			w.b = append(w.b, `,"type":"function","function":{"name":`...)
			w.b = appendStr(w.b, blk.Name)
			w.b = append(w.b, `,"arguments":`...)
			switch {
			case blk.Custom:
				w.b = appendStr(w.b, wrapCustomInput(blk.Input))
			case blk.Input == "":
				w.b = append(w.b, `"{}"`...)
			default:
				w.b = appendStr(w.b, blk.Input)
			}
			w.b = append(w.b, `}}`...)
		}
		w.b = append(w.b, ']')
	}
	w.b = append(w.b, '}')
}

// toolResult writes a tool message. A chat tool message holds only text:
// the result's images are returned, to follow in a user message.
func (w *chatWriter) toolResult(blk *Block, images []Block) []Block {
	w.open("tool")
	hasImage := false
	for i := range blk.Content {
		if blk.Content[i].Kind == Image {
			images = append(images, blk.Content[i])
			hasImage = true
		}
	}
	if !hasText(blk.Content) && hasImage {
		w.b = append(w.b, `"The tool returned an image; it follows in the next message."`...)
	} else {
		w.b = appendJoinedText(w.b, blk.Content, "\n")
	}
	w.b = append(w.b, `,"tool_call_id":`...)
	w.b = appendStr(w.b, blk.ID)
	w.b = append(w.b, '}')
	return images
}

func hasText(blocks []Block) bool {
	for i := range blocks {
		if blocks[i].Kind == Text && blocks[i].Text != "" {
			return true
		}
	}
	return false
}

// appendJoinedText writes the text of the Text blocks, joined by sep, as
// one JSON string.
func appendJoinedText(b []byte, blocks []Block, sep string) []byte {
	b = append(b, '"')
	n := 0
	for i := range blocks {
		if blocks[i].Kind != Text || blocks[i].Text == "" {
			continue
		}
		if n > 0 {
			b = appendStrBody(b, sep)
		}
		n++
		b = appendStrBody(b, blocks[i].Text)
	}
	return append(b, '"')
}

// sizeHint guesses the encoded size of r, so the output grows once or
// twice rather than a dozen times.
func sizeHint(r *Request) int {
	n := 512
	for i := range r.System {
		n += len(r.System[i].Text)
	}
	for i := range r.Messages {
		for j := range r.Messages[i].Content {
			blk := &r.Messages[i].Content[j]
			n += 64 + len(blk.Text) + len(blk.Input) + len(blk.Data) + len(blk.Signature)
			for k := range blk.Content {
				n += 32 + len(blk.Content[k].Text) + len(blk.Content[k].Data)
			}
		}
	}
	for i := range r.Tools {
		n += 64 + len(r.Tools[i].Description) + len(r.Tools[i].Schema)
	}
	return n + n/8
}

// --------------------------------------------------------------- response

// upstreamAnswerError is the error for an upstream answer that cannot be
// read: the upstream is at fault, so it is a 502 and failover goes on.
func upstreamAnswerError(detail string) *Error {
	return &Error{Status: http.StatusBadGateway, Type: "upstream_error", Code: "bad_upstream_answer",
		Message: "the upstream's answer could not be read: " + detail}
}

// decodeChatResponse reads a chat channel's whole answer.
func decodeChatResponse(body []byte) (*Response, error) {
	var r jsonReader
	r.reset(body)
	resp := &Response{}
	if !r.object() {
		return nil, upstreamAnswerError("not a JSON object")
	}
	var finish string
	var sawChoice bool
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			resp.ID = r.str()
		case "model":
			resp.Model = r.str()
		case "created":
			if !r.null() {
				resp.Created = r.int()
			}
		case "usage":
			resp.Usage = readUsage(&r)
		case "error":
			if !r.null() {
				return nil, chatErrorValue(&r, body)
			}
		case "choices":
			if r.null() || !r.array() {
				break
			}
			for first := true; r.elem(first); first = false {
				if sawChoice {
					r.skip() // only the first choice: n is always 1 here
					continue
				}
				sawChoice = true
				finish = decodeChatChoice(&r, resp)
			}
		default:
			r.skip()
		}
		if r.err != nil {
			return nil, upstreamAnswerError(string(key) + " " + r.err.Error())
		}
	}
	if r.done(); r.err != nil {
		return nil, upstreamAnswerError(r.err.Error())
	}
	if !sawChoice {
		return nil, upstreamAnswerError("no choices")
	}
	resp.Stop = chatStop(finish, hasKind(resp.Content, ToolCall))
	return resp, nil
}

func hasKind(blocks []Block, k Kind) bool {
	for i := range blocks {
		if blocks[i].Kind == k {
			return true
		}
	}
	return false
}

// decodeChatChoice reads one choice into resp and returns its
// finish_reason.
func decodeChatChoice(r *jsonReader, resp *Response) string {
	var finish, content, reasoning, refusal string
	var calls []Block
	if r.null() || !r.object() {
		return ""
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "finish_reason":
			finish = r.str()
		case "message":
			if r.null() || !r.object() {
				break
			}
			for first := true; ; first = false {
				k, ok := r.member(first)
				if !ok {
					break
				}
				switch string(k) {
				case "content":
					content = readChatText(r)
				case "reasoning_content", "reasoning":
					if r.kind() == '"' {
						if s := r.str(); s != "" {
							reasoning = s
						}
					} else {
						r.skip()
					}
				case "refusal":
					refusal = r.str()
				case "tool_calls":
					calls = readChatToolCalls(r)
				default:
					r.skip()
				}
			}
		default:
			r.skip()
		}
	}
	if reasoning != "" {
		resp.Content = append(resp.Content, Block{Kind: Thinking, Text: reasoning})
	}
	if content != "" {
		resp.Content = append(resp.Content, Block{Kind: Text, Text: content})
	}
	if refusal != "" {
		resp.Content = append(resp.Content, Block{Kind: Text, Text: refusal})
		if finish == "" || finish == "stop" {
			finish = "content_filter"
		}
	}
	resp.Content = append(resp.Content, calls...)
	return finish
}

// readChatText reads content that is a string, null, or an array of text
// parts.
func readChatText(r *jsonReader) string {
	switch r.kind() {
	case '"':
		return r.str()
	case '[':
	default:
		r.skip()
		return ""
	}
	r.array()
	var sb strings.Builder
	for first := true; r.elem(first); first = false {
		if r.null() || !r.object() {
			continue
		}
		for first := true; ; first = false {
			k, ok := r.member(first)
			if !ok {
				break
			}
			if string(k) == "text" {
				sb.Write(r.strBytes())
			} else {
				r.skip()
			}
		}
	}
	return sb.String()
}

func readChatToolCalls(r *jsonReader) []Block {
	if r.null() || !r.array() {
		return nil
	}
	var calls []Block
	for first := true; r.elem(first); first = false {
		if r.null() || !r.object() {
			continue
		}
		b := Block{Kind: ToolCall}
		for first := true; ; first = false {
			k, ok := r.member(first)
			if !ok {
				break
			}
			switch string(k) {
			case "id":
				b.ID = r.str()
			case "function", "custom":
				b.Name, b.Input = readCallFunction(r)
			default:
				r.skip()
			}
		}
		if b.ID == "" {
			b.ID = NewID("call_")
		}
		calls = append(calls, b)
	}
	return calls
}

// chatStop maps a finish_reason. A tool call ends the turn with tool use
// whatever the upstream said: some upstreams say "stop" after tool calls,
// and an agent that saw end_turn would not run them.
func chatStop(finish string, calls bool) StopReason {
	switch finish {
	case "length":
		return StopMaxTokens
	case "content_filter":
		return StopRefusal
	case "tool_calls", "function_call":
		return StopToolUse
	}
	if calls {
		return StopToolUse
	}
	return StopEnd
}

func chatFinish(s StopReason) string {
	switch s {
	case StopMaxTokens:
		return "length"
	case StopToolUse:
		return "tool_calls"
	case StopRefusal:
		return "content_filter"
	}
	return "stop"
}

// chatErrorValue reads an OpenAI error object ({"message","type","code"})
// at r, from an answer or a stream chunk, as an *Error.
func chatErrorValue(r *jsonReader, data []byte) *Error {
	e := &Error{Status: http.StatusBadGateway, Type: "upstream_error", Body: bytes.Clone(data), BodyDialect: Chat}
	if r.kind() != '{' {
		e.Message = "the upstream reported an error"
		r.skip()
		return e
	}
	r.object()
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "message":
			e.Message = r.str()
		case "type":
			e.Type = r.str()
		case "code":
			if r.kind() == '"' {
				e.Code = r.str()
			} else if r.kind() == '0' {
				e.Code = string(r.number())
			} else {
				r.skip()
			}
		default:
			r.skip()
		}
	}
	if e.Message == "" {
		e.Message = "the upstream reported an error"
	}
	if e.Type == "" {
		e.Type = "upstream_error"
	}
	e.Status = errorStatus(e.Type, e.Code)
	return e
}

// errorStatus guesses the HTTP status an error event stands for, from
// its type or code (either vendor's words), so failover treats it alike.
func errorStatus(typ, code string) int {
	for _, s := range [2]string{typ, code} {
		switch s {
		case "rate_limit_error", "rate_limit_exceeded", "429":
			return http.StatusTooManyRequests
		case "overloaded_error", "529":
			return 529
		case "api_error", "server_error", "internal_error", "500":
			return http.StatusInternalServerError
		case "invalid_request_error", "400":
			return http.StatusBadRequest
		case "authentication_error", "401":
			return http.StatusUnauthorized
		case "permission_error", "403":
			return http.StatusForbidden
		case "not_found_error", "404":
			return http.StatusNotFound
		case "request_too_large", "413":
			return http.StatusRequestEntityTooLarge
		case "timeout_error", "504":
			return http.StatusGatewayTimeout
		case "503", "service_unavailable":
			return http.StatusServiceUnavailable
		}
	}
	return http.StatusBadGateway
}

// readUsage reads a usage object of any dialect.
func readUsage(r *jsonReader) Usage {
	var d usageDoc
	if r.null() || !r.object() {
		return Usage{}
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "prompt_tokens":
			d.PromptTokens = readCount(r)
		case "completion_tokens":
			d.CompletionTokens = readCount(r)
		case "total_tokens":
			d.TotalTokens = readCount(r)
		case "input_tokens":
			d.InputTokens = readCount(r)
		case "output_tokens":
			d.OutputTokens = readCount(r)
		case "cache_read_input_tokens":
			d.CacheRead = readCount(r)
		case "cache_creation_input_tokens":
			d.CacheCreation = readCount(r)
		case "prompt_tokens_details", "input_tokens_details":
			d.PromptTokensDetails.CachedTokens += readDetail(r, "cached_tokens")
		case "completion_tokens_details", "output_tokens_details":
			d.CompletionTokensDetails.ReasoningTokens += readDetail(r, "reasoning_tokens")
		default:
			r.skip()
		}
	}
	return d.usage()
}

// readCount reads a token count; anything else counts as 0.
func readCount(r *jsonReader) int64 {
	if r.kind() != '0' {
		r.skip()
		return 0
	}
	n := r.int()
	if n < 0 {
		return 0
	}
	return n
}

func readDetail(r *jsonReader, name string) int64 {
	var n int64
	if r.null() || !r.object() {
		return 0
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		if string(k) == name {
			n = readCount(r)
		} else {
			r.skip()
		}
	}
	return n
}

// chatID is the id a chat client gets: chatcmpl- and the upstream's id
// without its own prefix, so that logs on both sides can be matched.
func chatID(id string) string {
	switch {
	case id == "":
		return NewID("chatcmpl-")
	case strings.HasPrefix(id, "chatcmpl-"):
		return id
	}
	return "chatcmpl-" + trimIDPrefix(id)
}

func trimIDPrefix(id string) string {
	for _, p := range [...]string{"msg_", "resp_", "chatcmpl-"} {
		if strings.HasPrefix(id, p) && len(id) > len(p) {
			return id[len(p):]
		}
	}
	return id
}

// encodeChatResponse writes a whole answer for a chat client.
func encodeChatResponse(r *Response) []byte {
	b := make([]byte, 0, 256+responseSize(r))
	b = append(b, `{"id":`...)
	b = appendStr(b, chatID(r.ID))
	b = append(b, `,"object":"chat.completion","created":`...)
	created := r.Created
	if created == 0 {
		created = time.Now().Unix()
	}
	b = appendInt(b, created)
	b = append(b, `,"model":`...)
	b = appendStr(b, r.Model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	calls := hasKind(r.Content, ToolCall)
	switch {
	case hasText(r.Content):
		b = appendJoinedText(b, r.Content, "")
	case calls:
		b = append(b, `null`...)
	default:
		b = append(b, `""`...)
	}
	if hasThinkingText(r.Content) {
		b = append(b, `,"reasoning_content":"`...)
		for i := range r.Content {
			if r.Content[i].Kind == Thinking {
				b = appendStrBody(b, r.Content[i].Text)
			}
		}
		b = append(b, '"')
	}
	if calls {
		b = append(b, `,"tool_calls":[`...)
		n := 0
		for i := range r.Content {
			blk := &r.Content[i]
			if blk.Kind != ToolCall {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = append(b, `{"id":`...)
			b = appendStr(b, blk.ID)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = appendStr(b, blk.Name)
			b = append(b, `,"arguments":`...)
			switch {
			case blk.Custom:
				b = appendStr(b, wrapCustomInput(blk.Input))
			case blk.Input == "":
				b = append(b, `"{}"`...)
			default:
				b = appendStr(b, blk.Input)
			}
			b = append(b, `}}`...)
		}
		b = append(b, ']')
	}
	b = append(b, `},"logprobs":null,"finish_reason":"`...)
	b = append(b, chatFinish(r.Stop)...)
	b = append(b, `"}],"usage":`...)
	b = appendChatUsage(b, r.Usage)
	return append(b, '}')
}

func hasThinkingText(blocks []Block) bool {
	for i := range blocks {
		if blocks[i].Kind == Thinking && blocks[i].Text != "" {
			return true
		}
	}
	return false
}

func responseSize(r *Response) int {
	n := 0
	for i := range r.Content {
		n += 64 + len(r.Content[i].Text) + len(r.Content[i].Input)
	}
	return n + n/8
}

func appendChatUsage(b []byte, u Usage) []byte {
	total := u.Total
	if total == 0 {
		total = u.Prompt + u.Completion
	}
	b = append(b, `{"prompt_tokens":`...)
	b = appendInt(b, u.Prompt)
	b = append(b, `,"completion_tokens":`...)
	b = appendInt(b, u.Completion)
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, total)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = appendInt(b, u.Cached)
	b = append(b, `},"completion_tokens_details":{"reasoning_tokens":`...)
	b = appendInt(b, u.Reasoning)
	return append(b, `}}`...)
}

// ----------------------------------------------------------------- stream

// chatDecoder reads a chat channel's stream. Chat interleaves what
// Messages keeps apart (reasoning, text and several tool calls may share a
// chunk); the decoder serialises them into blocks that open, grow and
// close one at a time.
type chatDecoder struct {
	r          jsonReader
	started    bool // EvStart sent
	stopped    bool // EvStop sent
	finished   bool // a finish_reason came
	finish     string
	refused    bool // a refusal came: the answer ends as one
	usageChunk bool // a usage chunk came (the last chunk, when asked for)
	usage      Usage
	blocks     int  // blocks opened so far
	open       bool // a block is open: blocks-1
	openKind   Kind
	sawCall    bool
	calls      []chatCall // by the upstream's tool call index
	cur        int        // the open tool call's index in calls
	deltas     []chatCallDelta
}

type chatCall struct {
	id      string
	started bool
}

// chatCallDelta is one tool_calls entry of a chunk.
type chatCallDelta struct {
	index    int // -1: not given
	id, name string
	args     string
}

// chatChunk is what one chunk says, read before anything is emitted (its
// members may come in any order).
type chatChunk struct {
	id, model          string
	created            int64
	reasoning, content string
	refusal            string
	finish             string
	hasUsage           bool
	usage              Usage
	choices            bool // the chunk has choices (else a usage chunk)
}

func (d *chatDecoder) Decode(name, data []byte, out []Event) ([]Event, error) {
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		if !d.started {
			return out, ErrIncomplete
		}
		return d.stop(out), nil
	}
	if d.stopped {
		return out, nil
	}
	var c chatChunk
	d.deltas = d.deltas[:0]
	r := &d.r
	r.reset(data)
	if !r.object() {
		return out, ErrBadEvent
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			if d.started {
				r.skip()
			} else {
				c.id = r.str()
			}
		case "model":
			if d.started {
				r.skip()
			} else {
				c.model = r.str()
			}
		case "created":
			if d.started || r.kind() != '0' {
				r.skip()
			} else {
				c.created = r.int()
			}
		case "choices":
			d.readChoices(&c)
		case "usage":
			if !r.null() {
				c.hasUsage = true
				c.usage = readUsage(r)
			}
		case "error":
			if !r.null() {
				e := chatErrorValue(r, data)
				if r.err == nil {
					return out, e
				}
			}
		default:
			r.skip()
		}
	}
	if r.done(); r.err != nil {
		return out, ErrBadEvent
	}

	if !d.started {
		d.started = true
		out = append(out, Event{Kind: EvStart, ID: c.id, Model: c.model, Created: c.created})
	}
	out = d.text(out, Thinking, c.reasoning)
	out = d.text(out, Text, c.content)
	out = d.text(out, Text, c.refusal)
	for i := range d.deltas {
		var err error
		if out, err = d.call(out, &d.deltas[i]); err != nil {
			return out, err
		}
	}
	if c.refusal != "" {
		d.refused = true
	}
	if c.finish != "" {
		out = d.closeBlock(out)
		d.finished, d.finish = true, c.finish
	}
	if c.hasUsage {
		// Only a usage chunk (choices: []) says the answer is complete;
		// some upstreams report usage on every chunk.
		d.usageChunk = d.usageChunk || !c.choices
		d.usage = c.usage
		out = append(out, Event{Kind: EvUsage, Usage: c.usage})
	}
	return out, nil
}

func (d *chatDecoder) readChoices(c *chatChunk) {
	r := &d.r
	if r.null() || !r.array() {
		return
	}
	for first := true; r.elem(first); first = false {
		c.choices = true
		if r.null() || !r.object() {
			continue
		}
		index := int64(0)
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(key) {
			case "index":
				index = readCount(r)
			case "finish_reason":
				if index == 0 {
					c.finish = r.str()
				} else {
					r.skip()
				}
			case "delta", "message":
				if index != 0 {
					r.skip()
					break
				}
				d.readDelta(c)
			default:
				r.skip()
			}
		}
	}
}

func (d *chatDecoder) readDelta(c *chatChunk) {
	r := &d.r
	if r.null() || !r.object() {
		return
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "content":
			c.content = readChatText(r)
		case "reasoning_content", "reasoning":
			if r.kind() == '"' {
				c.reasoning = r.str()
			} else {
				r.skip()
			}
		case "refusal":
			c.refusal = r.str()
		case "tool_calls":
			if r.null() || !r.array() {
				break
			}
			for first := true; r.elem(first); first = false {
				d.deltas = append(d.deltas, readCallDelta(r))
			}
		default:
			r.skip()
		}
	}
}

// readCallFunction reads a tool call's "function" (or "custom") object:
// its name and its arguments (or input), a string or, from upstreams that
// send it unencoded, any JSON value kept as its text.
func readCallFunction(r *jsonReader) (name, args string) {
	if r.null() || !r.object() {
		return "", ""
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			return name, args
		}
		switch string(k) {
		case "name":
			name = r.str()
		case "arguments", "input":
			if r.kind() == '"' {
				args = r.str()
			} else if !r.null() {
				args = string(r.raw())
			}
		default:
			r.skip()
		}
	}
}

func readCallDelta(r *jsonReader) chatCallDelta {
	td := chatCallDelta{index: -1}
	if r.null() || !r.object() {
		return td
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "index":
			if r.kind() == '0' {
				td.index = int(min(readCount(r), maxToolCalls))
			} else {
				r.skip()
			}
		case "id":
			td.id = r.str()
		case "function", "custom":
			td.name, td.args = readCallFunction(r)
		default:
			r.skip()
		}
	}
	return td
}

// text adds reasoning or answer text, opening a block of its kind when
// another block is open.
func (d *chatDecoder) text(out []Event, kind Kind, s string) []Event {
	if s == "" {
		return out
	}
	if !d.open || d.openKind != kind {
		out = d.closeBlock(out)
		out = append(out, Event{Kind: EvBlockStart, Index: d.blocks, Block: Block{Kind: kind}})
		d.open, d.openKind = true, kind
		d.blocks++
	}
	return append(out, Event{Kind: EvDelta, Index: d.blocks - 1, Text: s})
}

// call adds a piece of a tool call. Calls come one after another in every
// upstream we know; arguments for a call that was already closed cannot be
// placed and end the stream as broken.
func (d *chatDecoder) call(out []Event, td *chatCallDelta) ([]Event, error) {
	idx := td.index
	if idx < 0 { // no index: a new id starts a call, else the open one grows
		switch {
		case td.id != "" && (len(d.calls) == 0 || d.calls[len(d.calls)-1].id != td.id):
			idx = len(d.calls)
		case len(d.calls) > 0:
			idx = len(d.calls) - 1
		default:
			idx = 0
		}
	}
	if idx >= maxToolCalls {
		return out, upstreamAnswerError("too many tool calls")
	}
	for len(d.calls) <= idx {
		d.calls = append(d.calls, chatCall{})
	}
	c := &d.calls[idx]
	if !c.started {
		out = d.closeBlock(out)
		id := td.id
		if id == "" {
			id = NewID("call_")
		}
		c.started, c.id = true, id
		out = append(out, Event{Kind: EvBlockStart, Index: d.blocks, Block: Block{Kind: ToolCall, ID: id, Name: td.name}})
		d.open, d.openKind, d.cur = true, ToolCall, idx
		d.blocks++
		d.sawCall = true
	} else if !d.open || d.openKind != ToolCall || d.cur != idx {
		if td.args == "" {
			return out, nil
		}
		return out, upstreamAnswerError("tool call arguments interleaved with other content")
	}
	if td.args != "" {
		out = append(out, Event{Kind: EvDelta, Index: d.blocks - 1, Text: td.args})
	}
	return out, nil
}

func (d *chatDecoder) closeBlock(out []Event) []Event {
	if !d.open {
		return out
	}
	d.open = false
	return append(out, Event{Kind: EvBlockStop, Index: d.blocks - 1})
}

func (d *chatDecoder) stop(out []Event) []Event {
	if d.stopped {
		return out
	}
	out = d.closeBlock(out)
	d.stopped = true
	stop := chatStop(d.finish, d.sawCall)
	if d.refused && stop == StopEnd {
		stop = StopRefusal
	}
	return append(out, Event{Kind: EvStop, Stop: stop, Usage: d.usage})
}

// End closes an answer that had its finish_reason (or its usage chunk)
// but no [DONE]; anything less is incomplete.
func (d *chatDecoder) End(out []Event) ([]Event, error) {
	if d.stopped {
		return out, nil
	}
	if d.started && (d.finished || d.usageChunk) {
		return d.stop(out), nil
	}
	return out, ErrIncomplete
}

// chatEncoder writes internal events as chat completion chunks, with one
// id, created and model for the whole stream.
type chatEncoder struct {
	includeUsage bool
	clock        func() int64 // unix seconds; nil: the wall clock
	head         []byte       // `data: {"id":...,"choices":[`
	started      bool
	kind         Kind // the open block's kind
	calls        int  // tool calls started so far
	usage        Usage
}

func (e *chatEncoder) start(ev *Event) {
	e.started = true
	created := ev.Created
	if created == 0 {
		if e.clock != nil {
			created = e.clock()
		} else {
			created = time.Now().Unix()
		}
	}
	h := e.head[:0]
	h = append(h, `data: {"id":`...)
	if ev.KeepID {
		h = appendStr(h, ev.ID)
	} else {
		h = appendStr(h, chatID(ev.ID))
	}
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = appendInt(h, created)
	h = append(h, `,"model":`...)
	h = appendStr(h, ev.Model)
	h = append(h, `,"choices":[`...)
	e.head = h
	e.usage = ev.Usage
}

// delta opens a chunk whose choice carries a delta.
func (e *chatEncoder) delta(dst []byte) []byte {
	dst = append(dst, e.head...)
	return append(dst, `{"index":0,"delta":{`...)
}

const chatDeltaEnd = `},"logprobs":null,"finish_reason":null}]}` + "\n\n"

func (e *chatEncoder) Encode(dst []byte, ev *Event) []byte {
	if !e.started {
		start := Event{}
		if ev.Kind == EvStart {
			start = *ev
		}
		e.start(&start)
		dst = e.delta(dst)
		dst = append(dst, `"role":"assistant","content":""`...)
		dst = append(dst, chatDeltaEnd...)
		if ev.Kind == EvStart {
			return dst
		}
	}
	switch ev.Kind {
	case EvBlockStart:
		e.kind = ev.Block.Kind
		if e.kind != ToolCall {
			return dst
		}
		dst = e.delta(dst)
		dst = append(dst, `"tool_calls":[{"index":`...)
		dst = appendInt(dst, int64(e.calls))
		dst = append(dst, `,"id":`...)
		dst = appendStr(dst, ev.Block.ID)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = appendStr(dst, ev.Block.Name)
		dst = append(dst, `,"arguments":""}}]`...)
		e.calls++
		return append(dst, chatDeltaEnd...)
	case EvDelta:
		if ev.Text == "" || e.kind != Text && e.kind != Thinking && e.kind != ToolCall {
			return dst
		}
		dst = e.delta(dst)
		switch e.kind {
		case Text:
			dst = append(dst, `"content":`...)
			dst = appendStr(dst, ev.Text)
		case Thinking:
			dst = append(dst, `"reasoning_content":`...)
			dst = appendStr(dst, ev.Text)
		case ToolCall:
			dst = append(dst, `"tool_calls":[{"index":`...)
			dst = appendInt(dst, int64(e.calls-1))
			dst = append(dst, `,"function":{"arguments":`...)
			dst = appendStr(dst, ev.Text)
			dst = append(dst, `}}]`...)
		}
		return append(dst, chatDeltaEnd...)
	case EvUsage:
		e.usage = ev.Usage
	case EvStop:
		dst = append(dst, e.head...)
		dst = append(dst, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
		dst = append(dst, chatFinish(ev.Stop)...)
		dst = append(dst, `"}]}`+"\n\n"...)
		if e.includeUsage {
			dst = append(dst, e.head...)
			dst = append(dst, `],"usage":`...)
			dst = appendChatUsage(dst, ev.Usage)
			dst = append(dst, "}\n\n"...)
		}
		return append(dst, "data: [DONE]\n\n"...)
	}
	return dst
}

// Fail ends a broken stream with an error chunk whose payload starts
// exactly with {"error": (go-openai looks for that prefix), and no [DONE].
func (e *chatEncoder) Fail(dst []byte, err *Error) []byte {
	typ := err.Type
	if err.Body != nil {
		if _, t := errorText(err.Body); t != "" {
			typ = openAIType(t)
		}
	}
	return AppendEvent(dst, nil, OpenAIErrorJSON(cmpOr(typ, "upstream_error"), err.Code, err.Error(), err.Param))
}
