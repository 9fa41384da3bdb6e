package dialect

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode"
)

// The Anthropic Messages codec: Messages clients (Claude Code, the
// @anthropic-ai/sdk) over chat channels (the request is decoded here, the
// answer encoded here), and chat and Responses clients over Messages
// channels (the request is encoded here, the answer decoded here).

// DefaultMaxTokens is the max_tokens a Messages channel gets when the
// client gave none (Codex sends none; Messages requires one). It is Claude
// Code's own default output limit, within what current Claude models
// accept.
const DefaultMaxTokens = 32000

// minThinkingBudget is the smallest budget_tokens Anthropic accepts.
const minThinkingBudget = 1024

// ---------------------------------------------------------------- request

// messagesBlock is one content block while it is read: its members may
// come in any order, so its type is known only at its end.
type messagesBlock struct {
	typ                       string
	text, thinking, signature string
	data                      string
	id, name, toolUseID       string
	input                     []byte
	content                   []Block
	contentErr                *Error   // what content held that cannot be carried
	refs                      []string // the tools its tool_reference blocks loaded
	isError                   bool
	src                       imageSource
	hasSource                 bool
	title                     string
}

type imageSource struct {
	typ, mediaType, data, url string
	content                   []Block // a document's "content" source
}

// decodeMessagesRequest reads a Messages request for a channel that speaks
// another dialect. The Request's raw JSON (tool schemas) aliases body.
func decodeMessagesRequest(body []byte) (*Request, error) {
	var r jsonReader
	r.reset(body)
	req := &Request{}
	if !r.object() {
		return nil, r.fieldErr("")
	}
	var (
		system, leading  []Block
		sawMaxTokens     bool
		maxTokens        int64
		sawMessages      bool
		deferred, loaded []string // tools with defer_loading; tools a tool_reference loaded
	)
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		var err *Error
		switch string(key) {
		case "model":
			req.Model = r.str()
		case "max_tokens":
			if !r.null() {
				sawMaxTokens = true
				maxTokens = r.int()
			}
		case "messages":
			sawMessages = true
			leading, err = decodeMessagesTurns(&r, req, &loaded)
		case "system":
			system, err = decodeMessagesSystem(&r)
		case "tools":
			err = decodeMessagesTools(&r, req, &deferred)
		case "tool_choice":
			err = decodeMessagesToolChoice(&r, req)
		case "thinking":
			err = decodeMessagesThinking(&r, req)
		case "output_config":
			err = decodeOutputConfig(&r, req)
		case "output_format": // the structured outputs beta's spelling
			err = decodeOutputFormat(&r, req, "output_format")
		case "stop_sequences":
			err = decodeStopSequences(&r, req)
		case "temperature":
			req.Temperature = r.floatPtr()
		case "top_p":
			req.TopP = r.floatPtr()
		case "stream":
			if !r.null() {
				req.Stream = r.boolean()
			}
		case "metadata", "top_k", "cache_control", "context_management", "service_tier",
			"speed", "inference_geo", "diagnostics", "user_profile_id":
			// Dropped: prompt caching, context editing, routing and
			// sampling hints only Anthropic's servers act on; the answer
			// means the same without them.
			r.skip()
		case "container", "mcp_servers":
			// Server-side execution only Anthropic runs: the model will
			// not see these tools. Named for the log line.
			if !r.null() {
				r.skip()
				req.Dropped = append(req.Dropped, string(key))
			}
		default:
			r.skip()
			name := string(key)
			if name == "" {
				name = `""`
			}
			err = fieldError(name, "unknown field")
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
	switch {
	case !sawMaxTokens:
		return nil, fieldError("max_tokens", "is required")
	case maxTokens < 1 || maxTokens > maxTokenLimit:
		return nil, fieldError("max_tokens", "must be between 1 and %d", maxTokenLimit)
	case !sawMessages || len(req.Messages) == 0 && len(leading) == 0:
		return nil, fieldError("messages", "must hold at least one message")
	}
	req.MaxTokens = int(maxTokens)
	req.System = append(system, leading...)
	if len(deferred) > 0 {
		req.Tools = loadedTools(req.Tools, deferred, loaded)
	}
	return req, nil
}

// loadedTools leaves out the deferred tools (defer_loading) that nothing
// in the history has loaded (a tool_reference) or called: Anthropic shows
// a deferred tool to the model only once tool search has loaded it
// (Claude Code's DeferredToolPlaceholder never is), where a chat upstream
// would show every tool it is given.
func loadedTools(tools []Tool, deferred, loaded []string) []Tool {
	out := tools[:0]
	for _, t := range tools {
		if slices.Contains(deferred, t.Name) && !slices.Contains(loaded, t.Name) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func decodeMessagesSystem(r *jsonReader) ([]Block, *Error) {
	switch r.kind() {
	case 'n':
		r.null()
		return nil, nil
	case '"':
		if s := r.str(); s != "" {
			return []Block{{Kind: Text, Text: s}}, nil
		}
		return nil, nil
	}
	if !r.array() {
		return nil, r.fieldErr("system")
	}
	var out []Block
	root := fieldPath{name: "system"}
	for i, first := 0, true; r.elem(first); i, first = i+1, false {
		var b messagesBlock
		p := root.at(i)
		if err := readMessagesBlock(r, &b, &p, 0); err != nil {
			return nil, err
		}
		if b.typ != "text" {
			return nil, fieldError(p.sub("type"), "the system prompt can hold only text blocks")
		}
		if b.text != "" {
			out = append(out, Block{Kind: Text, Text: b.text})
		}
	}
	if r.err != nil {
		return nil, r.fieldErr("system")
	}
	return out, nil
}

// decodeMessagesTurns reads messages[] into req.Messages, and returns the
// text of role:"system" entries that come before any turn (they join the
// system prompt).
func decodeMessagesTurns(r *jsonReader, req *Request, loaded *[]string) ([]Block, *Error) {
	if !r.array() {
		return nil, r.fieldErr("messages")
	}
	var leading []Block
	var calls []string // tool_use ids of the previous assistant turn
	prev := System     // role of the previous turn, system entries aside
	root := fieldPath{name: "messages"}
	req.Messages = make([]Message, 0, 8)
	for i, first := 0, true; r.elem(first); i, first = i+1, false {
		mp := root.at(i)
		if !r.object() {
			return nil, r.fieldErr(mp.String())
		}
		var role string
		var blocks []Block
		var where []int // where each block was in content[], when some were dropped
		var content bool
		var typErr *Error
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(key) {
			case "role":
				role = r.known("user", "assistant", "system")
			case "content":
				content = true
				cp := mp.key("content")
				blocks, where, typErr = decodeMessagesContent(r, req, &cp, loaded)
				if typErr != nil {
					return nil, typErr
				}
			default:
				r.skip()
			}
			if r.err != nil {
				return nil, r.fieldErr(mp.sub(string(key)))
			}
		}
		if !content {
			return nil, fieldError(mp.sub("content"), "is required")
		}
		var rl Role
		switch role {
		case "user":
			rl = User
		case "assistant":
			rl = Assistant
		case "system":
			rl = System
		case "":
			return nil, fieldError(mp.sub("role"), "is required")
		default:
			return nil, fieldError(mp.sub("role"), "unknown role %q", role)
		}
		if err := checkMessagesBlocks(rl, blocks, where, &mp, calls); err != nil {
			return nil, err
		}
		switch rl {
		case System:
			if len(req.Messages) == 0 {
				leading = append(leading, blocks...)
				continue
			}
		case Assistant:
			// Consecutive assistant turns are one turn to Anthropic.
			if prev != Assistant {
				calls = calls[:0]
			}
			for j := range blocks {
				if blocks[j].Kind == ToolCall {
					calls = append(calls, blocks[j].ID)
				}
			}
			prev = Assistant
		case User:
			prev = User
		}
		req.Messages = append(req.Messages, Message{Role: rl, Content: blocks})
	}
	if r.err != nil {
		return nil, r.fieldErr("messages")
	}
	return leading, nil
}

// checkMessagesBlocks refuses blocks in a turn whose role cannot hold
// them, and tool results that answer no call of the previous assistant
// turn (Anthropic would refuse both, and a chat upstream would misread
// them).
func checkMessagesBlocks(role Role, blocks []Block, where []int, mp *fieldPath, calls []string) *Error {
	for j := range blocks {
		b := &blocks[j]
		p := func(name string) string {
			k := j
			if where != nil {
				k = where[j]
			}
			return mp.fieldAt("content", k) + "." + name
		}
		switch {
		case role == System && b.Kind != Text:
			return fieldError(p("type"), "a system entry can hold only text blocks")
		case role == User && (b.Kind == ToolCall || b.Kind == Thinking || b.Kind == RedactedThinking):
			return fieldError(p("type"), "a %s block belongs in an assistant turn", messagesBlockName(b.Kind))
		case role == Assistant && (b.Kind == ToolResult || b.Kind == Image):
			return fieldError(p("type"), "a %s block belongs in a user turn", messagesBlockName(b.Kind))
		case b.Kind == ToolResult:
			found := false
			for _, id := range calls {
				if id == b.ID {
					found = true
					break
				}
			}
			if !found {
				return fieldError(p("tool_use_id"), "no tool_use block with id %q in the previous assistant turn", b.ID)
			}
		}
	}
	return nil
}

func messagesBlockName(k Kind) string {
	switch k {
	case ToolCall:
		return "tool_use"
	case ToolResult:
		return "tool_result"
	}
	return k.String()
}

// decodeMessagesContent reads a turn's content: a string or blocks. When
// it drops blocks, it also returns where each kept one was, for the
// checks on the turn to name.
func decodeMessagesContent(r *jsonReader, req *Request, path *fieldPath, loaded *[]string) ([]Block, []int, *Error) {
	if r.kind() == '"' {
		if s := r.str(); s != "" {
			return []Block{{Kind: Text, Text: s}}, nil, nil
		}
		return nil, nil, nil
	}
	if r.null() {
		return nil, nil, nil
	}
	if !r.array() {
		return nil, nil, r.fieldErr(path.String())
	}
	var out []Block
	var where []int
	for j, first := 0, true; r.elem(first); j, first = j+1, false {
		p := path.at(j)
		var b messagesBlock
		if err := readMessagesBlock(r, &b, &p, 0); err != nil {
			return nil, nil, err
		}
		*loaded = append(*loaded, b.refs...)
		if b.typ == "tool_use" {
			*loaded = append(*loaded, b.name) // a tool it called was loaded
		}
		blk, keep, err := messagesBlockToIR(&b, &p)
		if err != nil {
			return nil, nil, err
		}
		if !keep {
			req.Dropped = append(req.Dropped, p.String()+" ("+b.typ+")")
			if where == nil {
				where = make([]int, len(out), j+1)
				for k := range where {
					where[k] = k
				}
			}
			continue
		}
		out = append(out, blk)
		if where != nil {
			where = append(where, j)
		}
	}
	if r.err != nil {
		return nil, nil, r.fieldErr(path.String())
	}
	return out, where, nil
}

// isServerBlock reports the blocks of tools Anthropic's servers run
// (server_tool_use, web_search_tool_result, mcp_tool_use, ...): dropped on
// a translated route, as those tools are.
func isServerBlock(typ string) bool {
	switch typ {
	case "server_tool_use", "mcp_tool_use", "mcp_tool_result", "container_upload":
		return true
	}
	return strings.HasSuffix(typ, "_tool_result") && typ != "tool_result"
}

// messagesBlockToIR turns a block of a turn into the internal form; keep
// is false for blocks dropped on a translated route.
func messagesBlockToIR(b *messagesBlock, p *fieldPath) (Block, bool, *Error) {
	switch b.typ {
	case "text":
		return Block{Kind: Text, Text: b.text}, true, nil
	case "image":
		img, err := messagesImage(b, p)
		return img, true, err
	case "document", "search_result":
		if b.contentErr != nil {
			return Block{}, false, b.contentErr
		}
		text, err := messagesDocumentText(b, p)
		return Block{Kind: Text, Text: text}, true, err
	case "thinking":
		// Unsigned thinking (Claude Code echoes reasoning that came from a
		// chat upstream with signature "") is kept here and left out by
		// every encoder: only Anthropic reads thinking, and only signed.
		return Block{Kind: Thinking, Text: b.thinking, Signature: b.signature}, true, nil
	case "redacted_thinking":
		return Block{Kind: RedactedThinking, Data: b.data}, true, nil
	case "tool_use":
		switch {
		case b.id == "":
			return Block{}, false, fieldError(p.sub("id"), "is required")
		case b.name == "":
			return Block{}, false, fieldError(p.sub("name"), "is required")
		case len(b.input) == 0:
			return Block{}, false, fieldError(p.sub("input"), "is required")
		case b.input[0] != '{':
			return Block{}, false, fieldError(p.sub("input"), "must be an object")
		}
		return Block{Kind: ToolCall, ID: b.id, Name: b.name, Input: string(b.input)}, true, nil
	case "tool_result":
		if b.toolUseID == "" {
			return Block{}, false, fieldError(p.sub("tool_use_id"), "is required")
		}
		if b.contentErr != nil {
			return Block{}, false, b.contentErr
		}
		return Block{Kind: ToolResult, ID: b.toolUseID, Content: b.content, IsError: b.isError}, true, nil
	case "":
		return Block{}, false, fieldError(p.sub("type"), "is required")
	}
	if isServerBlock(b.typ) {
		return Block{}, false, nil
	}
	return Block{}, false, fieldError(p.sub("type"), "unknown content block type %q", b.typ)
}

func messagesImage(b *messagesBlock, p *fieldPath) (Block, *Error) {
	if !b.hasSource {
		return Block{}, fieldError(p.sub("source"), "is required")
	}
	switch b.src.typ {
	case "base64":
		if b.src.mediaType == "" || b.src.data == "" {
			return Block{}, fieldError(p.sub("source"), "needs media_type and data")
		}
		return Block{Kind: Image, MediaType: b.src.mediaType, Data: b.src.data}, nil
	case "url":
		if b.src.url == "" {
			return Block{}, fieldError(p.sub("source.url"), "is required")
		}
		return Block{Kind: Image, URL: b.src.url}, nil
	}
	return Block{}, fieldError(p.sub("source.type"), "%q image sources cannot be sent to this channel", b.src.typ)
}

// messagesDocumentText is the text of a plain-text document or a search
// result. Other documents (PDFs, files) cannot be carried to a channel
// that speaks another dialect.
func messagesDocumentText(b *messagesBlock, p *fieldPath) (string, *Error) {
	var parts []string
	if b.title != "" {
		parts = append(parts, b.title)
	}
	switch {
	case b.typ == "search_result":
		if b.src.url != "" {
			parts = append(parts, b.src.url)
		}
		for i := range b.content {
			if b.content[i].Kind == Text {
				parts = append(parts, b.content[i].Text)
			}
		}
	case !b.hasSource:
		return "", fieldError(p.sub("source"), "is required")
	case b.src.typ == "text":
		parts = append(parts, b.src.data)
	case b.src.typ == "content":
		for i := range b.src.content {
			if b.src.content[i].Kind != Text {
				return "", fieldError(p.sub("source.content"), "only text documents can be sent to this channel")
			}
			parts = append(parts, b.src.content[i].Text)
		}
	default:
		return "", fieldError(p.sub("source.type"), "%q documents cannot be sent to this channel (only text documents can)", b.src.typ)
	}
	return strings.Join(parts, "\n\n"), nil
}

// readMessagesBlock reads one content block into b. depth counts nesting
// (tool results hold blocks; documents and search results hold blocks).
func readMessagesBlock(r *jsonReader, b *messagesBlock, p *fieldPath, depth int) *Error {
	if !r.object() {
		return r.fieldErr(p.String())
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		var err *Error
		switch string(key) {
		case "type":
			b.typ = r.known("text", "tool_use", "tool_result", "thinking", "image", "redacted_thinking", "document", "search_result", "tool_reference")
		case "text":
			b.text = r.str()
		case "thinking":
			b.thinking = r.str()
		case "signature":
			b.signature = r.str()
		case "data":
			b.data = r.str()
		case "id":
			b.id = r.str()
		case "name", "tool_name":
			b.name = r.str()
		case "title":
			b.title = r.str()
		case "source":
			if r.kind() == '"' { // a search result's source is its URL
				b.src.url = r.str()
				break
			}
			if !r.null() {
				b.hasSource = true
				sp := p.key("source")
				err = readSource(r, &b.src, &sp, depth)
			}
		case "input":
			b.input = r.raw()
		case "tool_use_id":
			b.toolUseID = r.str()
		case "is_error":
			if !r.null() {
				b.isError = r.boolean()
			}
		case "content":
			cp := p.key("content")
			b.content, b.contentErr = readInnerBlocks(r, &cp, depth, &b.refs)
		default: // cache_control, citations, context, caller, ...
			r.skip()
		}
		if err != nil {
			return err
		}
		if r.err != nil {
			return r.fieldErr(p.sub(string(key)))
		}
	}
	return nil
}

func readSource(r *jsonReader, s *imageSource, p *fieldPath, depth int) *Error {
	if !r.object() {
		return r.fieldErr(p.String())
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		var err *Error
		switch string(key) {
		case "type":
			s.typ = r.known("base64", "url", "text", "content")
		case "media_type":
			s.mediaType = r.known("image/png", "image/jpeg", "image/webp", "image/gif", "text/plain")
		case "data":
			s.data = r.str()
		case "url":
			s.url = r.str()
		case "content":
			cp := p.key("content")
			s.content, err = readInnerBlocks(r, &cp, depth, nil)
		default:
			r.skip()
		}
		if err != nil {
			return err
		}
		if r.err != nil {
			return r.fieldErr(p.sub(string(key)))
		}
	}
	return nil
}

// readInnerBlocks reads the content of a tool result, document or search
// result: a string, or text, image, document, search_result and
// tool_reference blocks.
func readInnerBlocks(r *jsonReader, p *fieldPath, depth int, refs *[]string) ([]Block, *Error) {
	switch r.kind() {
	case 'n':
		r.null()
		return nil, nil
	case '"':
		if s := r.str(); s != "" {
			return []Block{{Kind: Text, Text: s}}, nil
		}
		return nil, nil
	}
	if depth >= 4 {
		r.skip()
		return nil, fieldError(p.String(), "is nested too deeply")
	}
	if !r.array() {
		return nil, r.fieldErr(p.String())
	}
	var out []Block
	var bad *Error // the first block that cannot be carried
	for j, first := 0, true; r.elem(first); j, first = j+1, false {
		bp := p.at(j)
		var b messagesBlock
		if err := readMessagesBlock(r, &b, &bp, depth+1); err != nil {
			if r.err != nil {
				return nil, err
			}
			bad = cmpErr(bad, err)
			continue
		}
		var err *Error
		switch b.typ {
		case "text":
			if b.text != "" {
				out = append(out, Block{Kind: Text, Text: b.text})
			}
		case "image":
			var img Block
			if img, err = messagesImage(&b, &bp); err == nil {
				out = append(out, img)
			}
		case "document", "search_result":
			var text string
			if text, err = messagesDocumentText(&b, &bp); err == nil {
				out = append(out, Block{Kind: Text, Text: text})
			}
		case "tool_reference":
			// Claude Code's tool search answers with references to deferred
			// tools; on a translated route every tool is already offered.
			out = append(out, Block{Kind: Text, Text: "Tool " + b.name + " is available."})
			if refs != nil {
				*refs = append(*refs, b.name)
			}
		case "":
			err = fieldError(bp.sub("type"), "is required")
		default:
			err = fieldError(bp.sub("type"), "%q blocks cannot be sent to this channel here", b.typ)
		}
		bad = cmpErr(bad, err)
	}
	if r.err != nil {
		return nil, r.fieldErr(p.String())
	}
	return out, bad
}

func cmpErr(a, b *Error) *Error {
	if a != nil {
		return a
	}
	return b
}

func decodeMessagesTools(r *jsonReader, req *Request, deferred *[]string) *Error {
	if r.null() {
		return nil
	}
	if !r.array() {
		return r.fieldErr("tools")
	}
	root := fieldPath{name: "tools"}
	req.Tools = make([]Tool, 0, 16)
	for i, first := 0, true; r.elem(first); i, first = i+1, false {
		p := root.at(i)
		if !r.object() {
			return r.fieldErr(p.String())
		}
		var typ string
		var t Tool
		var deferLoading bool
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(key) {
			case "type":
				typ = r.str()
			case "name":
				t.Name = r.str()
			case "defer_loading":
				deferLoading = !r.null() && r.boolean()
			case "description":
				t.Description = r.str()
			case "input_schema":
				if !r.null() {
					if r.kind() != '{' {
						r.kindError(errWantObject)
					}
					t.Schema = r.raw()
				}
			default: // cache_control, strict, input_examples, ...
				r.skip()
			}
			if r.err != nil {
				return r.fieldErr(p.sub(string(key)))
			}
		}
		if typ != "" && typ != "custom" {
			// A tool with an Anthropic-defined type: a server tool (web
			// search, code execution, ...) or a client tool whose schema
			// only Anthropic's servers know. The model will not see it.
			req.Dropped = append(req.Dropped, p.String()+" ("+typ+")")
			continue
		}
		if t.Name == "" {
			return fieldError(p.sub("name"), "is required")
		}
		if deferLoading {
			*deferred = append(*deferred, t.Name)
		}
		req.Tools = append(req.Tools, t)
	}
	if r.err != nil {
		return r.fieldErr("tools")
	}
	return nil
}

func decodeMessagesToolChoice(r *jsonReader, req *Request) *Error {
	if r.null() {
		return nil
	}
	if !r.object() {
		return r.fieldErr("tool_choice")
	}
	var typ, name string
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			typ = r.str()
		case "name":
			name = r.str()
		case "disable_parallel_tool_use":
			if !r.null() && r.boolean() {
				f := false
				req.Parallel = &f
			}
		default:
			r.skip()
		}
		if r.err != nil {
			return r.fieldErr("tool_choice." + string(key))
		}
	}
	switch typ {
	case "auto":
		req.Choice = ToolChoice{Mode: ChoiceAuto, Set: true}
	case "any":
		req.Choice = ToolChoice{Mode: ChoiceAny, Set: true}
	case "none":
		req.Choice = ToolChoice{Mode: ChoiceNone, Set: true}
	case "tool":
		if name == "" {
			return fieldError("tool_choice.name", "is required")
		}
		req.Choice = ToolChoice{Mode: ChoiceTool, Name: name, Set: true}
	default:
		return fieldError("tool_choice.type", "unknown value %q", typ)
	}
	return nil
}

func decodeMessagesThinking(r *jsonReader, req *Request) *Error {
	if r.null() {
		return nil
	}
	if !r.object() {
		return r.fieldErr("thinking")
	}
	var typ, display string
	var budget int64
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			typ = r.str()
		case "budget_tokens":
			if !r.null() {
				budget = r.int()
			}
		case "display":
			display = r.str()
		default:
			r.skip()
		}
		if r.err != nil {
			return r.fieldErr("thinking." + string(key))
		}
	}
	switch typ {
	case "enabled":
		if budget < 1 || budget > maxTokenLimit {
			return fieldError("thinking.budget_tokens", "must be between 1 and %d", maxTokenLimit)
		}
		req.Reasoning.Budget = int(budget)
		req.Reasoning.Summary = display != "omitted"
	case "adaptive":
		// The model decides how much to think; how much it may is
		// output_config.effort, read on its own.
		req.Reasoning.Summary = display != "omitted"
	case "disabled":
		req.Reasoning.Off = true
	default:
		return fieldError("thinking.type", "unknown value %q", typ)
	}
	return nil
}

func decodeOutputConfig(r *jsonReader, req *Request) *Error {
	if r.null() {
		return nil
	}
	if !r.object() {
		return r.fieldErr("output_config")
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		var err *Error
		switch string(key) {
		case "effort":
			switch e := r.str(); e {
			case "":
			case "low", "medium", "high", "xhigh":
				req.Reasoning.Effort = e
			case "max":
				req.Reasoning.Effort = "xhigh" // the highest chat knows
			default:
				if r.err == nil {
					err = fieldError("output_config.effort", "unknown value %q", e)
				}
			}
		case "format":
			err = decodeOutputFormat(r, req, "output_config.format")
		default: // task_budget and later knobs: advice to Anthropic's servers
			r.skip()
		}
		if err != nil {
			return err
		}
		if r.err != nil {
			return r.fieldErr("output_config." + string(key))
		}
	}
	return nil
}

// decodeOutputFormat reads a structured output format ({"type":
// "json_schema", "schema": {...}}) into req.Format, in chat's shape.
func decodeOutputFormat(r *jsonReader, req *Request, p string) *Error {
	if r.null() {
		return nil
	}
	if !r.object() {
		return r.fieldErr(p)
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
		case "schema":
			if r.kind() != '{' {
				r.kindError(errWantObject)
			}
			schema = r.raw()
		default:
			r.skip()
		}
		if r.err != nil {
			return r.fieldErr(p + "." + string(key))
		}
	}
	if typ != "json_schema" {
		return fieldError(p+".type", "unknown value %q", typ)
	}
	if schema == nil {
		return fieldError(p+".schema", "is required")
	}
	f := append([]byte(`{"name":"output","strict":true,"schema":`), schema...)
	req.Format = append(f, '}')
	return nil
}

func decodeStopSequences(r *jsonReader, req *Request) *Error {
	if r.null() {
		return nil
	}
	if !r.array() {
		return r.fieldErr("stop_sequences")
	}
	for i, first := 0, true; r.elem(first); i, first = i+1, false {
		if r.kind() != '"' {
			r.kindError(errWantString)
			return r.fieldErr(at("stop_sequences", i))
		}
		if s := r.str(); s != "" {
			req.Stop = append(req.Stop, s)
		}
	}
	return nil
}

// effortBudget is the thinking budget for an effort, when a client gave
// only an effort and the channel takes a budget.
func effortBudget(effort string) int {
	switch effort {
	case "minimal":
		return minThinkingBudget
	case "low":
		return 2048
	case "medium":
		return 8192
	case "xhigh":
		return 32768
	}
	return 16384 // high
}

// msgRun is a stretch of turns Anthropic sees as one: consecutive turns of
// one role once system turns count as user turns and empty turns are gone.
type msgRun struct {
	role       Role // User or Assistant
	start, end int  // r.Messages[start:end]
}

// encodeMessagesRequest writes r for a Messages channel.
func encodeMessagesRequest(r *Request, model string) ([]byte, error) {
	thinking := !r.Reasoning.Off && (r.Reasoning.Budget > 0 || r.Reasoning.Effort != "")
	runs := messagesRuns(r.Messages)
	if n := len(runs); n > 0 && runs[n-1].role == Assistant && blankRun(r.Messages, runs[n-1]) {
		// A prefill of white space only: Anthropic refuses trailing white
		// space, and there is nothing else to continue from.
		runs = runs[:n-1]
	}
	if thinking {
		thinking = thinkingAllowed(r.Messages, runs)
	}
	budget := 0
	if thinking {
		budget = r.Reasoning.Budget
		if budget <= 0 {
			budget = effortBudget(r.Reasoning.Effort)
		}
		budget = min(max(budget, minThinkingBudget), maxTokenLimit/2)
	}
	maxTokens := r.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	if thinking && maxTokens <= budget {
		// budget_tokens must be below max_tokens, and thinking counts
		// against max_tokens: leave the answer the room it asked for.
		maxTokens = min(maxTokens+budget, maxTokenLimit)
	}

	b := make([]byte, 0, sizeHint(r))
	b = append(b, `{"model":`...)
	b = appendStr(b, model)
	b = append(b, `,"max_tokens":`...)
	b = appendInt(b, int64(maxTokens))
	if hasText(r.System) || r.JSONObject {
		b = append(b, `,"system":[`...)
		n := 0
		for i := range r.System {
			if r.System[i].Kind != Text || r.System[i].Text == "" {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendTextBlock(b, r.System[i].Text)
		}
		if r.JSONObject {
			// Anthropic offers schemas, not "any JSON object": ask for it
			// in words.
			if n > 0 {
				b = append(b, ',')
			}
			b = appendTextBlock(b, "Respond with a single JSON object and nothing else.")
		}
		b = append(b, ']')
	}
	b = append(b, `,"messages":[`...)
	var err *Error
	for k, run := range runs {
		if k > 0 {
			b = append(b, ',')
		}
		last := k == len(runs)-1
		if b, err = appendMessagesRun(b, r.Messages, run, last); err != nil {
			return nil, err
		}
	}
	b = append(b, ']')

	if len(r.Tools) > 0 {
		b = append(b, `,"tools":[`...)
		for i := range r.Tools {
			t := &r.Tools[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendStr(b, t.Name)
			if desc := toolDescription(t); desc != "" {
				b = append(b, `,"description":`...)
				b = appendStr(b, desc)
			}
			b = append(b, `,"input_schema":`...)
			b = append(b, toolSchema(t)...)
			b = append(b, '}')
		}
		b = append(b, ']')
		if r.Choice.Set || r.Parallel != nil && !*r.Parallel {
			b = append(b, `,"tool_choice":{"type":`...)
			switch r.Choice.Mode {
			case ChoiceAny:
				b = append(b, `"any"`...)
			case ChoiceNone:
				b = append(b, `"none"`...)
			case ChoiceTool:
				b = append(b, `"tool","name":`...)
				b = appendStr(b, r.Choice.Name)
			default:
				b = append(b, `"auto"`...)
			}
			if r.Parallel != nil && !*r.Parallel && r.Choice.Mode != ChoiceNone {
				b = append(b, `,"disable_parallel_tool_use":true`...)
			}
			b = append(b, '}')
		}
	}
	if len(r.Stop) > 0 {
		b = append(b, `,"stop_sequences":[`...)
		for i, s := range r.Stop {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, s)
		}
		b = append(b, ']')
	}
	if thinking {
		b = append(b, `,"thinking":{"type":"enabled","budget_tokens":`...)
		b = appendInt(b, int64(budget))
		b = append(b, '}')
	} else {
		// Anthropic refuses temperature and top_p with thinking on, and
		// both at once on its current models (temperature is kept); its
		// temperature ends at 1 where OpenAI's goes on to 2.
		if r.Temperature != nil {
			b = append(b, `,"temperature":`...)
			b = appendFloat(b, min(max(*r.Temperature, 0), 1))
		}
		if r.TopP != nil && r.Temperature == nil {
			b = append(b, `,"top_p":`...)
			b = appendFloat(b, *r.TopP)
		}
	}
	if r.Format != nil {
		schema, ferr := formatSchema(r.Format)
		if ferr != nil {
			return nil, ferr
		}
		b = append(b, `,"output_config":{"format":{"type":"json_schema","schema":`...)
		b = append(b, schema...)
		b = append(b, `}}`...)
	}
	if r.User != "" && len(r.User) <= 256 {
		b = append(b, `,"metadata":{"user_id":`...)
		b = appendStr(b, r.User)
		b = append(b, '}')
	}
	if r.Stream {
		b = append(b, `,"stream":true`...)
	}
	return append(b, '}'), nil
}

// formatSchema is the schema of a chat-shaped json_schema format.
func formatSchema(format []byte) ([]byte, *Error) {
	var r jsonReader
	r.reset(format)
	var schema []byte
	if r.object() {
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			if string(key) == "schema" && r.kind() == '{' {
				schema = r.raw()
			} else {
				r.skip()
			}
		}
	}
	if schema == nil {
		return nil, fieldError("response_format.json_schema.schema", "is required: this channel needs a JSON Schema for structured output")
	}
	return schema, nil
}

func appendTextBlock(b []byte, text string) []byte {
	b = append(b, `{"type":"text","text":`...)
	b = appendStr(b, text)
	return append(b, '}')
}

// emitsMessages reports whether blk is sent to a Messages channel.
// Thinking goes only with the signature it came with.
func emitsMessages(blk *Block, role Role) bool {
	switch blk.Kind {
	case Text:
		return blk.Text != ""
	case Thinking:
		return role == Assistant && blk.Signature != ""
	case RedactedThinking:
		return role == Assistant && blk.Data != ""
	case ToolCall:
		return role == Assistant
	case ToolResult, Image:
		return role != Assistant
	}
	return false
}

func messagesRuns(msgs []Message) []msgRun {
	var runs []msgRun
	for i := range msgs {
		role := msgs[i].Role
		if role == System {
			role = User // folded into the neighbouring user turn
		}
		empty := true
		for j := range msgs[i].Content {
			if emitsMessages(&msgs[i].Content[j], msgs[i].Role) {
				empty = false
				break
			}
		}
		if empty {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].role == role {
			runs[n-1].end = i + 1
			continue
		}
		runs = append(runs, msgRun{role: role, start: i, end: i + 1})
	}
	return runs
}

// blankRun reports an assistant turn that holds only white space text.
func blankRun(msgs []Message, run msgRun) bool {
	for i := run.start; i < run.end; i++ {
		for j := range msgs[i].Content {
			blk := &msgs[i].Content[j]
			if !emitsMessages(blk, Assistant) {
				continue
			}
			if blk.Kind != Text || strings.TrimSpace(blk.Text) != "" {
				return false
			}
		}
	}
	return true
}

// thinkingAllowed reports whether thinking may be turned on for this
// history. Anthropic refuses thinking when an assistant turn that called
// tools has no signed thinking block (the history came from a chat
// upstream, or from a client that dropped the reasoning), and when the
// last turn is the assistant's (a prefill): such requests get no
// thinking rather than a 400.
func thinkingAllowed(msgs []Message, runs []msgRun) bool {
	if n := len(runs); n > 0 && runs[n-1].role == Assistant {
		return false
	}
	for _, run := range runs {
		if run.role != Assistant {
			continue
		}
		var calls, signed bool
		for i := run.start; i < run.end; i++ {
			for j := range msgs[i].Content {
				blk := &msgs[i].Content[j]
				switch {
				case blk.Kind == ToolCall:
					calls = true
				case blk.Kind == Thinking && blk.Signature != "", blk.Kind == RedactedThinking:
					signed = true
				}
			}
		}
		if calls && !signed {
			return false
		}
	}
	return true
}

// appendMessagesRun writes one turn. A user turn has its tool results
// first, as Anthropic requires; the last turn, when it is the assistant's,
// has no trailing white space (Anthropic refuses it).
func appendMessagesRun(b []byte, msgs []Message, run msgRun, last bool) ([]byte, *Error) {
	if run.role == Assistant {
		b = append(b, `{"role":"assistant","content":[`...)
	} else {
		b = append(b, `{"role":"user","content":[`...)
	}
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	if run.role == User {
		for i := run.start; i < run.end; i++ {
			for j := range msgs[i].Content {
				blk := &msgs[i].Content[j]
				if blk.Kind != ToolResult {
					continue
				}
				sep()
				var err *Error
				if b, err = appendToolResult(b, blk); err != nil {
					return nil, err
				}
			}
		}
	}
	lastText := -1 // the last text block of a final assistant turn
	if last && run.role == Assistant {
		for i := run.start; i < run.end; i++ {
			for j := range msgs[i].Content {
				if blk := &msgs[i].Content[j]; blk.Kind == Text && blk.Text != "" {
					lastText = i<<20 | j
				}
			}
		}
	}
	for i := run.start; i < run.end; i++ {
		role := msgs[i].Role
		for j := range msgs[i].Content {
			blk := &msgs[i].Content[j]
			if blk.Kind == ToolResult || !emitsMessages(blk, role) {
				continue
			}
			switch blk.Kind {
			case Text:
				text := blk.Text
				if i<<20|j == lastText {
					if text = strings.TrimRightFunc(text, unicode.IsSpace); text == "" {
						continue
					}
				}
				sep()
				b = appendTextBlock(b, text)
			case Image:
				sep()
				var err *Error
				if b, err = appendMessagesImage(b, blk); err != nil {
					return nil, err
				}
			case Thinking:
				sep()
				b = append(b, `{"type":"thinking","thinking":`...)
				b = appendStr(b, blk.Text)
				b = append(b, `,"signature":`...)
				b = appendStr(b, blk.Signature)
				b = append(b, '}')
			case RedactedThinking:
				sep()
				b = append(b, `{"type":"redacted_thinking","data":`...)
				b = appendStr(b, blk.Data)
				b = append(b, '}')
			case ToolCall:
				sep()
				b = append(b, `{"type":"tool_use","id":`...)
				b = appendStr(b, anthropicID(blk.ID))
				b = append(b, `,"name":`...)
				b = appendStr(b, blk.Name)
				b = append(b, `,"input":`...)
				b = appendToolInput(b, blk)
				b = append(b, '}')
			}
		}
	}
	return append(b, `]}`...), nil
}

// appendToolInput writes a tool call's input as the JSON object Anthropic
// requires: a custom tool's text as {"input": text}, and arguments that a
// chat model got wrong (not an object) as {}.
func appendToolInput(b []byte, blk *Block) []byte {
	if blk.Custom {
		b = append(b, `{"input":`...)
		b = appendStr(b, blk.Input)
		return append(b, '}')
	}
	if !isJSONObject(blk.Input) {
		return append(b, `{}`...)
	}
	return append(b, blk.Input...)
}

// isJSONObject checks a tool call's arguments strictly (they are copied
// whole into the output, and a chat model may have written anything).
func isJSONObject(s string) bool {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i < len(s) && s[i] == '{' && json.Valid([]byte(s))
}

func appendToolResult(b []byte, blk *Block) ([]byte, *Error) {
	b = append(b, `{"type":"tool_result","tool_use_id":`...)
	b = appendStr(b, anthropicID(blk.ID))
	var texts, images int
	for i := range blk.Content {
		switch blk.Content[i].Kind {
		case Text:
			if blk.Content[i].Text != "" {
				texts++
			}
		case Image:
			images++
		}
	}
	switch {
	case images == 0 && texts == 1:
		b = append(b, `,"content":`...)
		b = appendJoinedText(b, blk.Content, "")
	case texts+images > 0:
		b = append(b, `,"content":[`...)
		n := 0
		for i := range blk.Content {
			c := &blk.Content[i]
			switch {
			case c.Kind == Text && c.Text != "":
				if n > 0 {
					b = append(b, ',')
				}
				b = appendTextBlock(b, c.Text)
			case c.Kind == Image:
				if n > 0 {
					b = append(b, ',')
				}
				var err *Error
				if b, err = appendMessagesImage(b, c); err != nil {
					return nil, err
				}
			default:
				continue
			}
			n++
		}
		b = append(b, ']')
	}
	if blk.IsError {
		b = append(b, `,"is_error":true`...)
	}
	return append(b, '}'), nil
}

// appendMessagesImage writes an image block: base64 data (a data URL
// included) or a URL.
func appendMessagesImage(b []byte, blk *Block) ([]byte, *Error) {
	mt, data, url := blk.MediaType, blk.Data, blk.URL
	if strings.HasPrefix(url, "data:") {
		meta, payload, ok := strings.Cut(url[len("data:"):], ",")
		if !ok || !strings.HasSuffix(meta, ";base64") {
			return nil, fieldError("image_url", "a data URL must be base64-encoded")
		}
		mt, data, url = strings.TrimSuffix(meta, ";base64"), payload, ""
	}
	if url != "" {
		b = append(b, `{"type":"image","source":{"type":"url","url":`...)
		b = appendStr(b, url)
		return append(b, `}}`...), nil
	}
	b = append(b, `{"type":"image","source":{"type":"base64","media_type":`...)
	b = appendStr(b, mt)
	b = append(b, `,"data":`...)
	b = appendStr(b, data)
	return append(b, `}}`...), nil
}

// --------------------------------------------------------------- response

// decodeMessagesResponse reads a Messages channel's whole answer.
func decodeMessagesResponse(body []byte) (*Response, error) {
	var r jsonReader
	r.reset(body)
	resp := &Response{}
	if !r.object() {
		return nil, upstreamAnswerError("not a JSON object")
	}
	var stop string
	var typ string
	answerPath := fieldPath{name: "content"}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			typ = r.str()
		case "id":
			resp.ID = r.str()
		case "model":
			resp.Model = r.str()
		case "stop_reason":
			stop = r.str()
		case "stop_sequence":
			resp.StopSequence = r.str()
		case "usage":
			resp.Usage = readUsage(&r)
		case "error":
			if !r.null() {
				e := messagesErrorValue(&r, body)
				if r.err == nil {
					return nil, e
				}
			}
		case "content":
			if r.null() || !r.array() {
				break
			}
			for first := true; r.elem(first); first = false {
				var b messagesBlock
				if readMessagesBlock(&r, &b, &answerPath, 0) != nil {
					break
				}
				if blk, ok := answerBlock(&b); ok {
					resp.Content = append(resp.Content, blk)
				}
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
	if typ == "error" {
		return nil, upstreamAnswerError("an error without details")
	}
	resp.Stop = messagesStop(stop)
	return resp, nil
}

// answerBlock is a block of an answer in the internal form; server tool
// blocks are skipped.
func answerBlock(b *messagesBlock) (Block, bool) {
	switch b.typ {
	case "text":
		return Block{Kind: Text, Text: b.text}, true
	case "thinking":
		return Block{Kind: Thinking, Text: b.thinking, Signature: b.signature}, true
	case "redacted_thinking":
		return Block{Kind: RedactedThinking, Data: b.data}, true
	case "tool_use":
		input := string(b.input)
		if input == "" {
			input = "{}"
		}
		return Block{Kind: ToolCall, ID: b.id, Name: b.name, Input: input}, true
	}
	return Block{}, false
}

func messagesStop(s string) StopReason {
	switch s {
	case "max_tokens", "model_context_window_exceeded":
		return StopMaxTokens
	case "tool_use":
		return StopToolUse
	case "stop_sequence":
		return StopSequence
	case "refusal":
		return StopRefusal
	case "pause_turn":
		return StopPause
	}
	return StopEnd
}

func messagesStopName(s StopReason) string {
	switch s {
	case StopMaxTokens:
		return "max_tokens"
	case StopToolUse:
		return "tool_use"
	case StopSequence:
		return "stop_sequence"
	case StopRefusal:
		return "refusal"
	case StopPause:
		return "pause_turn"
	}
	return "end_turn"
}

// messagesErrorValue reads an Anthropic error object ({"type","message"})
// as an *Error with the status its type implies.
func messagesErrorValue(r *jsonReader, data []byte) *Error {
	e := &Error{Body: bytes.Clone(data), BodyDialect: Messages}
	var typ string
	if r.object() {
		for first := true; ; first = false {
			k, ok := r.member(first)
			if !ok {
				break
			}
			switch string(k) {
			case "type":
				typ = r.str()
			case "message":
				e.Message = r.str()
			default:
				r.skip()
			}
		}
	}
	e.Status = errorStatus(typ, "")
	e.Type = cmpOr(openAIType(typ), "upstream_error")
	if e.Message == "" {
		e.Message = "the upstream reported an error (" + cmpOr(typ, "no type") + ")"
	}
	if typ == "invalid_request_error" && strings.Contains(strings.ToLower(e.Message), "prompt is too long") {
		e.Code = "context_length_exceeded"
	}
	return e
}

// msgID is the id a Messages client gets: msg_ and the upstream's id
// without its own prefix.
func msgID(id string) string {
	switch {
	case id == "":
		return NewID("msg_")
	case strings.HasPrefix(id, "msg_"):
		return id
	}
	return "msg_" + trimIDPrefix(id)
}

// toolUseID maps a tool call id to one Anthropic accepts
// (^[a-zA-Z0-9_-]+$), the same way every time, so that a history the
// client sends back later still matches its calls. A valid toolu_ id is
// kept; any other gets toolu_ and its bytes outside [a-zA-Z0-9_] written
// as -xx (hex), which keeps distinct ids distinct.
func toolUseID(id string) string {
	if id == "" {
		return NewID("toolu_")
	}
	valid := true
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) && id[i] != '-' {
			valid = false
			break
		}
	}
	if valid && strings.HasPrefix(id, "toolu_") {
		return id
	}
	b := make([]byte, 0, len("toolu_")+len(id)+8)
	b = append(b, "toolu_"...)
	for i := 0; i < len(id); i++ {
		if c := id[i]; idByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '-', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// anthropicID is a tool call id of a history as Anthropic accepts it:
// unchanged when valid, else mapped as toolUseID does (tool calls and
// their results map alike, so they still match).
func anthropicID(id string) string {
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) && id[i] != '-' {
			return toolUseID(id)
		}
	}
	if id == "" {
		return "toolu_"
	}
	return id
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// encodeMessagesResponse writes a whole answer for a Messages client.
func encodeMessagesResponse(r *Response) []byte {
	b := make([]byte, 0, 256+responseSize(r))
	b = append(b, `{"id":`...)
	b = appendStr(b, msgID(r.ID))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = appendStr(b, r.Model)
	b = append(b, `,"content":[`...)
	n := 0
	for i := range r.Content {
		blk := &r.Content[i]
		switch blk.Kind {
		case Text, Thinking, RedactedThinking, ToolCall:
		default:
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		switch blk.Kind {
		case Text:
			b = appendTextBlock(b, blk.Text)
		case Thinking:
			b = append(b, `{"type":"thinking","thinking":`...)
			b = appendStr(b, blk.Text)
			b = append(b, `,"signature":`...)
			b = appendStr(b, blk.Signature)
			b = append(b, '}')
		case RedactedThinking:
			b = append(b, `{"type":"redacted_thinking","data":`...)
			b = appendStr(b, blk.Data)
			b = append(b, '}')
		case ToolCall:
			b = append(b, `{"type":"tool_use","id":`...)
			b = appendStr(b, toolUseID(blk.ID))
			b = append(b, `,"name":`...)
			b = appendStr(b, blk.Name)
			b = append(b, `,"input":`...)
			b = appendToolInput(b, blk)
			b = append(b, '}')
		}
	}
	b = append(b, `],"stop_reason":"`...)
	b = append(b, messagesStopName(r.Stop)...)
	b = append(b, `","stop_sequence":`...)
	if r.Stop == StopSequence && r.StopSequence != "" {
		b = appendStr(b, r.StopSequence)
	} else {
		b = append(b, `null`...)
	}
	b = append(b, `,"usage":`...)
	b = appendMessagesUsage(b, r.Usage)
	return append(b, '}')
}

// appendMessagesUsage writes usage as Anthropic counts it: input_tokens
// without the cache reads and writes, which have their own counts.
func appendMessagesUsage(b []byte, u Usage) []byte {
	b = append(b, `{"input_tokens":`...)
	b = appendInt(b, max(u.Prompt-u.Cached-u.CacheWrite, 0))
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = appendInt(b, u.CacheWrite)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = appendInt(b, u.Cached)
	b = append(b, `,"output_tokens":`...)
	b = appendInt(b, u.Completion)
	return append(b, '}')
}

// ----------------------------------------------------------------- stream

// messagesDecoder reads a Messages channel's stream.
type messagesDecoder struct {
	r        jsonReader
	started  bool
	stopped  bool
	stopSeen bool // message_delta said why the answer ends
	stop     StopReason
	stopSeq  string
	usage    anthropicUsage
	blocks   int  // blocks opened so far
	open     bool // a block is open: blocks-1, upstream index up
	up       int
	openKind Kind
	ev       messagesEvent
	block    messagesBlock // the block of a content_block_start
	// blockPath names content_block in errors (never shown: the
	// decoder's errors are ErrBadEvent); a field, so it is not allocated
	// per event.
	blockPath fieldPath
}

// anthropicUsage is usage as a Messages stream reports it: message_start
// has the input, message_delta the output so far (and, lately, the input
// again).
type anthropicUsage struct {
	in, out, cacheRead, cacheWrite int64
}

func (u *anthropicUsage) merge(d *usageDoc) {
	if d.InputTokens > 0 {
		u.in = d.InputTokens
	}
	if d.OutputTokens > 0 {
		u.out = d.OutputTokens
	}
	if d.CacheRead > 0 {
		u.cacheRead = d.CacheRead
	}
	if d.CacheCreation > 0 {
		u.cacheWrite = d.CacheCreation
	}
}

func (u *anthropicUsage) usage() Usage {
	d := usageDoc{InputTokens: u.in, OutputTokens: u.out, CacheRead: u.cacheRead, CacheCreation: u.cacheWrite}
	return d.usage()
}

// readUsageDoc reads a usage object's counts.
func readUsageDoc(r *jsonReader) usageDoc {
	var d usageDoc
	if r.null() || !r.object() {
		return d
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "input_tokens":
			d.InputTokens = readCount(r)
		case "output_tokens":
			d.OutputTokens = readCount(r)
		case "cache_read_input_tokens":
			d.CacheRead = readCount(r)
		case "cache_creation_input_tokens":
			d.CacheCreation = readCount(r)
		default:
			r.skip()
		}
	}
	return d
}

// messagesEvent is what one event says, read before anything is emitted.
type messagesEvent struct {
	typ            []byte
	index          int
	id, model      string
	usage          usageDoc
	hasUsage       bool
	block          []byte // content_block, read only for content_block_start
	deltaType      []byte
	text           string // text, thinking, partial_json or signature
	stopReason     string
	stopSeq        string
	hasStop        bool
	errValue       *Error
	typBuf, dtyBuf [24]byte
}

func (d *messagesDecoder) Decode(name, data []byte, out []Event) ([]Event, error) {
	if d.stopped {
		return out, nil
	}
	// The event is read into the decoder's own (it is large, and would
	// otherwise be allocated for every event).
	ev := &d.ev
	*ev = messagesEvent{}
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
		case "type":
			ev.typ = append(ev.typBuf[:0], r.strBytes()...)
		case "index":
			ev.index = int(min(readCount(r), 1<<30))
		case "message":
			d.readMessage(ev)
		case "content_block":
			ev.block = r.raw()
		case "delta":
			d.readDelta(ev)
		case "usage":
			if !r.null() {
				ev.hasUsage = true
				ev.usage = readUsageDoc(r)
			}
		case "error":
			if !r.null() {
				ev.errValue = messagesErrorValue(r, data)
			}
		default:
			r.skip()
		}
	}
	if r.done(); r.err != nil {
		return out, ErrBadEvent
	}
	typ := ev.typ
	if len(typ) == 0 {
		typ = name
	}
	switch string(typ) {
	case "message_start":
		if d.started {
			return out, nil
		}
		d.started = true
		if ev.hasUsage {
			d.usage.merge(&ev.usage)
		}
		return append(out, Event{Kind: EvStart, ID: ev.id, Model: ev.model, Usage: d.usage.usage()}), nil
	case "content_block_start":
		out = d.begin(out)
		out = d.closeBlock(out)
		d.block = messagesBlock{}
		if len(ev.block) > 0 && ev.block[0] == '{' {
			r.reset(ev.block)
			d.blockPath.name = "content_block"
			if readMessagesBlock(r, &d.block, &d.blockPath, 0) != nil && r.err != nil {
				return out, ErrBadEvent
			}
		}
		blk, ok := answerBlock(&d.block)
		if !ok {
			// A server tool's block: skipped with its deltas, but said,
			// so that a stream the client got as it was (with this block
			// in it) is not resumed by an encoder that numbers blocks
			// without it.
			return append(out, Event{Kind: EvOpaque}), nil
		}
		var first string
		switch blk.Kind {
		case Text, Thinking:
			first, blk.Text = blk.Text, ""
			blk.Signature = ""
		case ToolCall:
			// The input arrives as input_json_delta; an upstream that put
			// it whole in the start (not {}) gets it passed on as a delta.
			if in := strings.TrimSpace(blk.Input); in != "{}" && in != "" {
				first = in
			}
			blk.Input = ""
		}
		out = append(out, Event{Kind: EvBlockStart, Index: d.blocks, Block: blk})
		d.open, d.up, d.openKind = true, ev.index, blk.Kind
		d.blocks++
		if first != "" {
			out = append(out, Event{Kind: EvDelta, Index: d.blocks - 1, Text: first})
		}
		if d.block.signature != "" {
			out = append(out, Event{Kind: EvSignature, Index: d.blocks - 1, Text: d.block.signature})
		}
		return out, nil
	case "content_block_delta":
		if !d.open || ev.index != d.up {
			return out, nil
		}
		switch string(ev.deltaType) {
		case "text_delta", "thinking_delta", "input_json_delta":
			if ev.text != "" {
				out = append(out, Event{Kind: EvDelta, Index: d.blocks - 1, Text: ev.text})
			}
		case "signature_delta":
			if ev.text != "" {
				out = append(out, Event{Kind: EvSignature, Index: d.blocks - 1, Text: ev.text})
			}
		}
		return out, nil
	case "content_block_stop":
		if d.open && ev.index == d.up {
			out = d.closeBlock(out)
		}
		return out, nil
	case "message_delta":
		out = d.begin(out)
		if ev.hasStop {
			d.stopSeen = true
			d.stop, d.stopSeq = messagesStop(ev.stopReason), ev.stopSeq
		}
		if ev.hasUsage {
			d.usage.merge(&ev.usage)
			out = append(out, Event{Kind: EvUsage, Usage: d.usage.usage()})
		}
		return out, nil
	case "message_stop":
		out = d.begin(out)
		return d.finish(out), nil
	case "error":
		if ev.errValue == nil {
			ev.errValue = &Error{Status: http.StatusBadGateway, Type: "upstream_error", Message: "the upstream reported an error",
				Body: bytes.Clone(data), BodyDialect: Messages}
		}
		return out, ev.errValue
	}
	return out, nil // ping, and events this decoder does not know
}

func (d *messagesDecoder) readMessage(ev *messagesEvent) {
	r := &d.r
	if r.null() || !r.object() {
		return
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			ev.id = r.str()
		case "model":
			ev.model = r.str()
		case "usage":
			if !r.null() {
				ev.hasUsage = true
				ev.usage = readUsageDoc(r)
			}
		default:
			r.skip()
		}
	}
}

func (d *messagesDecoder) readDelta(ev *messagesEvent) {
	r := &d.r
	if r.null() || !r.object() {
		return
	}
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "type":
			ev.deltaType = append(ev.dtyBuf[:0], r.strBytes()...)
		case "text", "thinking", "partial_json", "signature":
			ev.text = r.str()
		case "stop_reason": // null until the answer ends, on some upstreams
			if !r.null() {
				ev.hasStop = true
				ev.stopReason = r.str()
			}
		case "stop_sequence":
			ev.stopSeq = r.str()
		default:
			r.skip()
		}
	}
}

// begin sends EvStart for a stream whose message_start never came.
func (d *messagesDecoder) begin(out []Event) []Event {
	if d.started {
		return out
	}
	d.started = true
	return append(out, Event{Kind: EvStart})
}

func (d *messagesDecoder) closeBlock(out []Event) []Event {
	if !d.open {
		return out
	}
	d.open = false
	return append(out, Event{Kind: EvBlockStop, Index: d.blocks - 1})
}

func (d *messagesDecoder) finish(out []Event) []Event {
	if d.stopped {
		return out
	}
	out = d.closeBlock(out)
	d.stopped = true
	return append(out, Event{Kind: EvStop, Stop: d.stop, StopSequence: d.stopSeq, Usage: d.usage.usage()})
}

// End closes an answer whose message_delta said why it ended, even when
// message_stop never came (Anthropic's SDKs accept that too); anything
// less is incomplete.
func (d *messagesDecoder) End(out []Event) ([]Event, error) {
	if d.stopped {
		return out, nil
	}
	if d.stopSeen {
		return d.finish(out), nil
	}
	return out, ErrIncomplete
}

// messagesEncoder writes internal events as Anthropic's stream: every
// event with its event: line (Claude Code's SDK ignores events without
// one), blocks numbered by the encoder itself.
type messagesEncoder struct {
	started bool
	stopped bool
	open    bool
	kind    Kind
	index   int // the open block's index; blocks started = index+1
	blocks  int
}

func appendMessagesFrame(dst []byte, name string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, name...)
	return append(dst, '"')
}

func (e *messagesEncoder) Encode(dst []byte, ev *Event) []byte {
	if e.stopped {
		return dst
	}
	if !e.started {
		e.started = true
		start := Event{}
		if ev.Kind == EvStart {
			start = *ev
		}
		dst = appendMessagesFrame(dst, "message_start")
		dst = append(dst, `,"message":{"id":`...)
		if start.KeepID {
			dst = appendStr(dst, start.ID)
		} else {
			dst = appendStr(dst, msgID(start.ID))
		}
		dst = append(dst, `,"type":"message","role":"assistant","model":`...)
		dst = appendStr(dst, start.Model)
		dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
		dst = appendMessagesUsage(dst, start.Usage)
		dst = append(dst, "}}\n\n"...)
		if ev.Kind == EvStart {
			return dst
		}
	}
	switch ev.Kind {
	case EvBlockStart:
		dst = e.closeBlock(dst)
		e.open, e.kind, e.index = true, ev.Block.Kind, e.blocks
		e.blocks++
		dst = appendMessagesFrame(dst, "content_block_start")
		dst = append(dst, `,"index":`...)
		dst = appendInt(dst, int64(e.index))
		dst = append(dst, `,"content_block":`...)
		switch ev.Block.Kind {
		case Thinking:
			dst = append(dst, `{"type":"thinking","thinking":"","signature":""}`...)
		case RedactedThinking:
			dst = append(dst, `{"type":"redacted_thinking","data":`...)
			dst = appendStr(dst, ev.Block.Data)
			dst = append(dst, '}')
		case ToolCall:
			dst = append(dst, `{"type":"tool_use","id":`...)
			dst = appendStr(dst, toolUseID(ev.Block.ID))
			dst = append(dst, `,"name":`...)
			dst = appendStr(dst, ev.Block.Name)
			dst = append(dst, `,"input":{}}`...)
		default:
			e.kind = Text
			dst = append(dst, `{"type":"text","text":""}`...)
		}
		return append(dst, "}\n\n"...)
	case EvDelta:
		if !e.open || ev.Text == "" || e.kind == RedactedThinking {
			return dst
		}
		dst = appendMessagesFrame(dst, "content_block_delta")
		dst = append(dst, `,"index":`...)
		dst = appendInt(dst, int64(e.index))
		switch e.kind {
		case Thinking:
			dst = append(dst, `,"delta":{"type":"thinking_delta","thinking":`...)
		case ToolCall:
			dst = append(dst, `,"delta":{"type":"input_json_delta","partial_json":`...)
		default:
			dst = append(dst, `,"delta":{"type":"text_delta","text":`...)
		}
		dst = appendStr(dst, ev.Text)
		return append(dst, "}}\n\n"...)
	case EvSignature:
		if !e.open || e.kind != Thinking || ev.Text == "" {
			return dst
		}
		dst = appendMessagesFrame(dst, "content_block_delta")
		dst = append(dst, `,"index":`...)
		dst = appendInt(dst, int64(e.index))
		dst = append(dst, `,"delta":{"type":"signature_delta","signature":`...)
		dst = appendStr(dst, ev.Text)
		return append(dst, "}}\n\n"...)
	case EvBlockStop:
		return e.closeBlock(dst)
	case EvStop:
		dst = e.closeBlock(dst)
		e.stopped = true
		dst = appendMessagesFrame(dst, "message_delta")
		dst = append(dst, `,"delta":{"stop_reason":"`...)
		dst = append(dst, messagesStopName(ev.Stop)...)
		dst = append(dst, `","stop_sequence":`...)
		if ev.Stop == StopSequence && ev.StopSequence != "" {
			dst = appendStr(dst, ev.StopSequence)
		} else {
			dst = append(dst, `null`...)
		}
		dst = append(dst, `},"usage":`...)
		dst = appendMessagesUsage(dst, ev.Usage)
		dst = append(dst, "}\n\n"...)
		dst = appendMessagesFrame(dst, "message_stop")
		return append(dst, "}\n\n"...)
	}
	return dst
}

func (e *messagesEncoder) closeBlock(dst []byte) []byte {
	if !e.open {
		return dst
	}
	e.open = false
	dst = appendMessagesFrame(dst, "content_block_stop")
	dst = append(dst, `,"index":`...)
	dst = appendInt(dst, int64(e.index))
	return append(dst, "}\n\n"...)
}

// Fail ends a broken stream with an error event, never message_stop, so
// the SDK raises (and Claude Code retries the turn).
func (e *messagesEncoder) Fail(dst []byte, err *Error) []byte {
	return AppendEvent(dst, []byte("error"), MessagesErrorJSON(err.Status, err.Error()))
}
