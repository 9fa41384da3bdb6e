package dialect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The OpenAI Responses codec: Codex CLI, the Agents SDK and
// openai.responses over channels that speak chat or Messages. Requests
// are read whole, in one pass with jsonReader; answers are written with
// the append-style writers of json.go, a stream one event at a time.
//
// Mappings the contract (DIALECTS.md) leaves open, with the reason for
// each:
//
//   - Namespace tools ({"type":"namespace","name":N,"tools":[...]}) become
//     flat tools named N__NAME, the form Codex itself uses when a boundary
//     cannot keep the split (codex-rs protocol/src/tool_name.rs,
//     canonical_flat_name). Codex routes a call by its (namespace, name)
//     pair and never splits a flat name, so a call to N__NAME goes back as
//     {"name":NAME,"namespace":N}. The namespace "functions" is Codex's
//     default: its tools keep their bare names and their calls go back
//     without a namespace, which Codex reads as "functions"
//     (is_default_namespace; the cx-known-model-no-namespace capture).
//     Each flattened tool keeps its namespace in Tool.Namespace, where
//     the encoders find it to map calls back.
//   - additional_tools input items (Codex's "responses lite" mode sends
//     its tools that way, as a developer item) add their tools to the
//     request's tools.
//   - Reasoning round trip: a thinking block goes out as a reasoning item
//     whose encrypted_content Catfish mints itself:
//     "catfish.thinking.v1." + base64url(JSON {"t": text, "s": signature})
//     (redacted thinking: "catfish.redacted.v1." + its data). It carries
//     the exact text, so the summary can be off or edited without
//     breaking Anthropic's signature check. Any other encrypted_content
//     (OpenAI's own) cannot be read off OpenAI: the summary text stays, as
//     unsigned thinking.
//   - A custom tool is offered upstream as a function with one string
//     parameter "input"; its call ({"input": "..."}) is unwrapped into a
//     custom_tool_call, on a stream piece by piece as the arguments
//     arrive.

// Encrypted reasoning that Catfish minted itself.
const (
	thinkingPrefix = "catfish.thinking.v1."
	redactedPrefix = "catfish.redacted.v1."
)

// defaultNamespace is Codex's namespace for top-level tools.
const defaultNamespace = "functions"

// flatName is the tool name the upstream model sees for tool name in
// namespace ns.
func flatName(ns, name string) string {
	if ns == "" || ns == defaultNamespace {
		return name
	}
	return ns + "__" + name
}

// splitFlat undoes flatName for the namespaces in nss (the longest that
// matches wins).
func splitFlat(nss []string, flat string) (ns, name string) {
	for _, n := range nss {
		if len(flat) > len(n)+2 && len(n) > len(ns) && strings.HasPrefix(flat, n) && flat[len(n)] == '_' && flat[len(n)+1] == '_' {
			ns = n
		}
	}
	if ns == "" {
		return "", flat
	}
	return ns, flat[len(ns)+2:]
}

// flattenedNamespaces lists the namespaces whose tools the decoder
// flattened.
func flattenedNamespaces(req *Request) []string {
	if req == nil {
		return nil
	}
	var nss []string
	for _, t := range req.Tools {
		if t.Namespace != "" && !slices.Contains(nss, t.Namespace) {
			nss = append(nss, t.Namespace)
		}
	}
	return nss
}

// ---------------------------------------------------------------- request

// A request is read in one pass (respReader, below) into the documents
// that follow, then checked and turned into the internal form in a fixed
// order: stateful fields, instructions, tools, input, tool_choice,
// settings. That order decides which error a request with several faults
// gets; it, the words of the errors, and the reading of member names
// without regard to case are those of the encoding/json decoder this one
// replaced, so clients see no change.

type respRequestDoc struct {
	Model              string
	Input              respInput
	Instructions       string
	BadInstructions    bool // neither a string nor null
	Tools              []respToolDoc
	ToolChoice         respChoiceDoc
	ParallelToolCalls  *bool
	MaxOutputTokens    *int
	Temperature        *float64
	TopP               *float64
	Stream             *bool
	Reasoning          *respReasoning
	Text               *respText
	PreviousResponseID *string
	Conversation       bool // given, not null
	Background         *bool
	Prompt             bool // given, not null
	User               *string
	SafetyIdentifier   *string
	// Advisory fields are not read, so they never fail a request: store,
	// include, prompt_cache_key, client_metadata, metadata, truncation,
	// service_tier, text.verbosity, stream_options, and any new ones.

	// toolBad is the first value of the wrong type in a tool of the last
	// tools member, tools[toolBadAt]: it is reported before any other,
	// unless a tools member was not an array (badTools).
	toolBad   *typeError
	toolBadAt int
	badTools  bool
}

// respInput is the input: a string, an array of items, or absent.
type respInput struct {
	kind  byte // '"', '[', 0 (absent or null), or the kind of a value of another type
	text  string
	items []respItemDoc
}

type respReasoning struct {
	Effort          *string
	Summary         *string
	GenerateSummary *string
}

type respText struct {
	Format *respFormat
}

type respFormat struct {
	Type        string
	Name        string
	Schema      []byte // as given
	Strict      *bool
	Description *string
}

type respItemDoc struct {
	Type             string
	Role             string
	Content          respContent
	CallID           string
	Name             string
	Namespace        string
	Arguments        string
	Input            string
	Output           respContent
	Summary          []respSummaryPart
	EncryptedContent *string
	Tools            []respToolDoc
	// The item's first value of the wrong type; a content or output of
	// the wrong type (abort) is reported before it.
	bad, abort *typeError
}

// typeErr is the item's error, if it has one.
func (it *respItemDoc) typeErr() *typeError {
	if it.abort != nil {
		return it.abort
	}
	return it.bad
}

// respContent is a message's content or a tool's output: a string or an
// array of parts.
type respContent struct {
	Str     string
	Parts   []respPartDoc
	IsParts bool
}

type respSummaryPart struct {
	Type string
	Text string
}

type respPartDoc struct {
	Type     string
	Text     *string
	Refusal  *string
	ImageURL *string
	FileID   *string
}

type respToolDoc struct {
	Type        string
	Name        string
	Description string
	Parameters  []byte        // as given
	Format      []byte        // as given
	Tools       []respToolDoc // a namespace's
}

// respChoiceDoc is tool_choice: a string or an object.
type respChoiceDoc struct {
	Set       bool // given, not null
	IsString  bool
	Str       string
	Type      string
	Name      string
	Namespace string
	Mode      string
	Tools     []respChoiceTool
	bad       *typeError
}

type respChoiceTool struct {
	Type      string
	Name      string
	Namespace string
}

// hostedItems are input items about hosted tools, or server state: they
// come from an earlier turn answered by OpenAI itself, and no other
// upstream can read them.
var hostedItems = map[string]bool{
	"web_search_call": true, "file_search_call": true, "computer_call": true,
	"computer_call_output": true, "code_interpreter_call": true, "image_generation_call": true,
	"local_shell_call": true, "local_shell_call_output": true, "shell_call": true,
	"shell_call_output": true, "apply_patch_call": true, "apply_patch_call_output": true,
	"mcp_list_tools": true, "mcp_approval_request": true, "mcp_approval_response": true,
	"mcp_call": true, "tool_search_call": true, "tool_search_output": true,
	"compaction": true, "compaction_summary": true,
}

// respDecoder holds what decoding one request needs. Its maps are made
// on first use (put): most requests need few of them.
type respDecoder struct {
	r       *Request
	dropped map[string]bool
	nss     map[string]bool   // flattened namespaces
	toolAt  map[string]string // tool name → where it was declared
	toolNS  map[string]string // tool name → the namespace it was declared in
	calls   map[string]bool   // call ids seen so far
	leading bool              // still in the leading system messages
}

func decodeResponsesRequest(body []byte) (*Request, error) {
	var doc respRequestDoc
	var rd respReader
	rd.reset(body)
	rd.readRequest(&doc)
	if rd.done(); rd.err != nil {
		return nil, syntaxError(body, rd.err)
	}
	if doc.toolBad != nil && !doc.badTools {
		return nil, doc.toolBad.error("tools[" + strconv.Itoa(doc.toolBadAt) + "]")
	}
	if rd.bad != nil {
		return nil, rd.bad.error("")
	}
	d := &respDecoder{r: &Request{Model: doc.Model}, leading: true}
	r := d.r
	if err := refuseStateful(&doc); err != nil {
		return nil, err
	}
	if doc.BadInstructions {
		return nil, fieldError("instructions", "must be a string")
	}
	if doc.Instructions != "" {
		r.System = append(r.System, Block{Kind: Text, Text: doc.Instructions})
	}
	for i := range doc.Tools {
		if err := d.tool(&doc.Tools[i], "tools["+strconv.Itoa(i)+"]", ""); err != nil {
			return nil, err
		}
	}
	if err := d.input(&doc.Input); err != nil {
		return nil, err
	}
	if err := d.checkFlatNames(); err != nil {
		return nil, err
	}
	if err := d.toolChoice(&doc.ToolChoice); err != nil {
		return nil, err
	}
	r.Parallel = doc.ParallelToolCalls
	if doc.MaxOutputTokens != nil {
		if *doc.MaxOutputTokens < 1 {
			return nil, fieldError("max_output_tokens", "must be a positive integer")
		}
		r.MaxTokens = *doc.MaxOutputTokens
	}
	r.Temperature, r.TopP = doc.Temperature, doc.TopP
	r.Stream = doc.Stream != nil && *doc.Stream
	if rs := doc.Reasoning; rs != nil {
		if rs.Effort != nil {
			switch *rs.Effort {
			case "none":
				r.Reasoning.Off = true
			default:
				r.Reasoning.Effort = *rs.Effort
			}
		}
		for _, s := range []*string{rs.Summary, rs.GenerateSummary} {
			if s != nil && *s != "" && *s != "none" {
				r.Reasoning.Summary = true
			}
		}
	}
	if err := d.textFormat(doc.Text); err != nil {
		return nil, err
	}
	switch {
	case doc.User != nil:
		r.User = *doc.User
	case doc.SafetyIdentifier != nil:
		r.User = *doc.SafetyIdentifier
	}
	return r, nil
}

// refuseStateful refuses what needs state kept on OpenAI's servers.
func refuseStateful(doc *respRequestDoc) error {
	if doc.PreviousResponseID != nil && *doc.PreviousResponseID != "" {
		return fieldError("previous_response_id", "responses are not stored on this route; send the whole conversation in input instead")
	}
	if doc.Conversation {
		return fieldError("conversation", "conversations are not stored on this route; send the whole conversation in input instead")
	}
	if doc.Background != nil && *doc.Background {
		return fieldError("background", "background responses are not supported on this route")
	}
	if doc.Prompt {
		return fieldError("prompt", "stored prompt templates are not available on this route; send the prompt in instructions or input")
	}
	return nil
}

// put sets (*m)[k], making the map if need be.
func put[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[k] = v
}

func (d *respDecoder) drop(what string) {
	if !d.dropped[what] {
		put(&d.dropped, what, true)
		d.r.Dropped = append(d.r.Dropped, what)
	}
}

// tool reads one tool (at path); ns is the namespace it is declared in.
func (d *respDecoder) tool(t *respToolDoc, path, ns string) error {
	switch t.Type {
	case "function", "custom":
		if t.Name == "" {
			return fieldError(path+".name", "a %s tool needs a name", t.Type)
		}
		name := flatName(ns, t.Name)
		if prev, dup := d.toolAt[name]; dup {
			return fieldError(path+".name", "tool %q is declared twice (also at %s)", name, prev)
		}
		put(&d.toolAt, name, path)
		if ns != defaultNamespace {
			put(&d.toolNS, name, ns)
		}
		tool := Tool{Name: name, Description: t.Description}
		if ns != defaultNamespace {
			tool.Namespace = ns
		}
		if t.Type == "custom" {
			tool.Custom = true
			if len(t.Format) > 0 && string(t.Format) != "null" {
				tool.Format = compactRaw(t.Format)
			}
		} else {
			tool.Schema = compactRaw(t.Parameters)
			if len(tool.Schema) == 0 || string(tool.Schema) == "null" {
				tool.Schema = json.RawMessage(`{"type":"object","properties":{}}`)
			}
		}
		d.r.Tools = append(d.r.Tools, tool)
		return nil
	case "namespace":
		if ns != "" {
			return fieldError(path+".type", "namespaces do not nest")
		}
		if t.Name == "" {
			return fieldError(path+".name", "a namespace needs a name")
		}
		if t.Name != defaultNamespace {
			put(&d.nss, t.Name, true)
		}
		start := len(d.r.Tools)
		for j := range t.Tools {
			if err := d.tool(&t.Tools[j], path+".tools["+strconv.Itoa(j)+"]", t.Name); err != nil {
				return err
			}
		}
		// The model sees no namespace: its description goes with each tool.
		if desc := strings.TrimSpace(t.Description); desc != "" {
			for k := start; k < len(d.r.Tools); k++ {
				tl := &d.r.Tools[k]
				if tl.Description == "" {
					tl.Description = desc
				} else {
					tl.Description = desc + "\n\n" + tl.Description
				}
			}
		}
		return nil
	case "":
		return fieldError(path+".type", "a tool needs a type")
	}
	// Tools OpenAI's servers run or define (web_search, file_search,
	// code_interpreter, image_generation, computer_use_preview, mcp,
	// local_shell, shell, apply_patch, tool_search) and any newer type:
	// on a translated route the model does not see them.
	d.drop("tool " + t.Type)
	return nil
}

// checkFlatNames makes sure every flat name maps back to where it came
// from: a top-level tool named like NAMESPACE__X, beside a namespace
// NAMESPACE, would be answered as that namespace's.
func (d *respDecoder) checkFlatNames() error {
	if len(d.nss) == 0 {
		return nil
	}
	nss := make([]string, 0, len(d.nss))
	for ns := range d.nss {
		nss = append(nss, ns)
	}
	for _, t := range d.r.Tools {
		if ns, _ := splitFlat(nss, t.Name); ns != d.toolNS[t.Name] {
			return fieldError(d.toolAt[t.Name]+".name", "tool name %q clashes with the namespace %q once namespaces are flattened to NAMESPACE__TOOL", t.Name, ns)
		}
	}
	return nil
}

// input reads the input: a string (one user message) or items. The
// items' values of the wrong type are reported before anything else about
// them.
func (d *respDecoder) input(in *respInput) error {
	switch in.kind {
	case 0:
		return nil
	case '"':
		d.add(User, Block{Kind: Text, Text: in.text})
		return nil
	case '[':
	default:
		return fieldError("input", "must be a string or an array of items")
	}
	for i := range in.items {
		if e := in.items[i].typeErr(); e != nil {
			return e.error("input[" + strconv.Itoa(i) + "]")
		}
	}
	for i := range in.items {
		if err := d.item(&in.items[i], "input["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	return nil
}

func (d *respDecoder) item(it *respItemDoc, path string) error {
	typ := it.Type
	if typ == "" && it.Role != "" {
		typ = "message" // EasyInputMessage: the type is optional
	}
	switch typ {
	case "message":
		return d.message(it, path)
	case "function_call", "custom_tool_call":
		if it.CallID == "" {
			return fieldError(path+".call_id", "a %s needs a call_id", typ)
		}
		if it.Name == "" {
			return fieldError(path+".name", "a %s needs a name", typ)
		}
		put(&d.calls, it.CallID, true)
		b := Block{Kind: ToolCall, ID: it.CallID, Name: flatName(it.Namespace, it.Name), Input: it.Arguments}
		if typ == "custom_tool_call" {
			b.Custom, b.Input = true, it.Input
		} else if strings.TrimSpace(b.Input) == "" {
			b.Input = "{}" // a call without arguments; every upstream wants an object
		}
		d.add(Assistant, b)
	case "function_call_output", "custom_tool_call_output":
		if !d.calls[it.CallID] {
			return fieldError(path+".call_id", "no earlier function_call or custom_tool_call has call_id %q", it.CallID)
		}
		content, err := contentBlocks(&it.Output, path+".output", true)
		if err != nil {
			return err
		}
		d.add(User, Block{Kind: ToolResult, ID: it.CallID, Content: content})
	case "reasoning":
		return d.reasoning(it, path)
	case "additional_tools":
		for j := range it.Tools {
			if err := d.tool(&it.Tools[j], path+".tools["+strconv.Itoa(j)+"]", ""); err != nil {
				return err
			}
		}
	case "item_reference":
		return fieldError(path+".type", "item references need stored responses, which this route does not keep; send the item itself")
	case "":
		return fieldError(path+".type", "an input item needs a type")
	default:
		if !hostedItems[typ] {
			return fieldError(path+".type", "unknown input item type %q", typ)
		}
		d.drop("input item " + typ)
	}
	return nil
}

func (d *respDecoder) message(it *respItemDoc, path string) error {
	var role Role
	switch it.Role {
	case "user":
		role = User
	case "assistant":
		role = Assistant
	case "system", "developer":
		role = System
	case "":
		return fieldError(path+".role", "a message needs a role")
	default:
		return fieldError(path+".role", "unknown role %q", it.Role)
	}
	blocks, err := contentBlocks(&it.Content, path+".content", role == User)
	if err != nil {
		return err
	}
	if role == System && d.leading {
		d.r.System = append(d.r.System, blocks...)
		return nil
	}
	d.add(role, blocks...)
	return nil
}

// contentBlocks reads a message's content or a tool's output. Empty
// texts are left out: Anthropic refuses empty text blocks, and an empty
// result or message says the same without one. Images come only from
// users and tools.
func contentBlocks(c *respContent, path string, images bool) ([]Block, error) {
	if !c.IsParts {
		if c.Str == "" {
			return nil, nil
		}
		return []Block{{Kind: Text, Text: c.Str}}, nil
	}
	blocks := make([]Block, 0, len(c.Parts))
	for j := range c.Parts {
		ppath := path + "[" + strconv.Itoa(j) + "]"
		b, err := contentPart(&c.Parts[j], ppath)
		if err != nil {
			return nil, err
		}
		if b.Kind == Image && !images {
			return nil, fieldError(ppath+".type", "images can only be sent in user messages and tool outputs on this route")
		}
		if b.Kind == Text && b.Text == "" {
			continue
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// contentPart reads one content part of a message or a tool's output.
func contentPart(p *respPartDoc, path string) (Block, error) {
	switch p.Type {
	case "input_text", "output_text", "summary_text", "reasoning_text":
		if p.Text == nil {
			return Block{}, fieldError(path+".text", "a %s part needs text", p.Type)
		}
		return Block{Kind: Text, Text: *p.Text}, nil
	case "refusal":
		if p.Refusal == nil {
			return Block{}, fieldError(path+".refusal", "a refusal part needs refusal text")
		}
		return Block{Kind: Text, Text: *p.Refusal}, nil
	case "input_image":
		if p.ImageURL == nil || *p.ImageURL == "" {
			if p.FileID != nil {
				return Block{}, fieldError(path+".file_id", "uploaded files are not available on this route; send the image as image_url (a URL or a data: URL)")
			}
			return Block{}, fieldError(path+".image_url", "an input_image needs image_url")
		}
		return Block{Kind: Image, URL: *p.ImageURL}, nil
	case "input_file", "input_audio":
		return Block{}, fieldError(path+".type", "%s parts cannot be carried to this channel", p.Type)
	case "":
		return Block{}, fieldError(path+".type", "a content part needs a type")
	}
	return Block{}, fieldError(path+".type", "unknown content part type %q", p.Type)
}

// reasoning reads a reasoning item back into thinking (see the round trip
// at the top of this file).
func (d *respDecoder) reasoning(it *respItemDoc, path string) error {
	if it.EncryptedContent != nil {
		enc := *it.EncryptedContent
		if data, ok := strings.CutPrefix(enc, redactedPrefix); ok {
			d.add(Assistant, Block{Kind: RedactedThinking, Data: data})
			return nil
		}
		if rest, ok := strings.CutPrefix(enc, thinkingPrefix); ok {
			if text, sig, ok := openThinking(rest); ok {
				if text != "" || sig != "" {
					d.add(Assistant, Block{Kind: Thinking, Text: text, Signature: sig})
				}
				return nil
			}
		}
		if enc != "" {
			d.drop("reasoning encrypted_content")
		}
	}
	var text strings.Builder
	for j, s := range it.Summary {
		if s.Type != "summary_text" {
			return fieldError(path+".summary["+strconv.Itoa(j)+"].type", "unknown summary part type %q", s.Type)
		}
		if text.Len() > 0 && s.Text != "" {
			text.WriteString("\n\n")
		}
		text.WriteString(s.Text)
	}
	if text.Len() == 0 {
		for _, p := range it.Content.Parts {
			if p.Text != nil {
				text.WriteString(*p.Text)
			}
		}
	}
	if text.Len() > 0 {
		d.add(Assistant, Block{Kind: Thinking, Text: text.String()})
	}
	return nil
}

// sealThinking is the encrypted_content of a thinking block.
func sealThinking(dst []byte, text, sig string) []byte {
	var js []byte
	js = append(js, `{"t":`...)
	js = AppendString(js, text)
	js = append(js, `,"s":`...)
	js = AppendString(js, sig)
	js = append(js, '}')
	dst = append(dst, thinkingPrefix...)
	return base64.RawURLEncoding.AppendEncode(dst, js)
}

func openThinking(s string) (text, sig string, ok bool) {
	js, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", "", false
	}
	var doc struct {
		T string `json:"t"`
		S string `json:"s"`
	}
	if json.Unmarshal(js, &doc) != nil {
		return "", "", false
	}
	return doc.T, doc.S, true
}

// add appends blocks to the conversation: consecutive items of one role
// make one turn. In a user turn tool results come first, as every
// upstream wants them right after the calls.
func (d *respDecoder) add(role Role, blocks ...Block) {
	if len(blocks) == 0 {
		return
	}
	d.leading = false
	msgs := d.r.Messages
	if n := len(msgs); n > 0 && msgs[n-1].Role == role && role != System {
		last := &msgs[n-1]
		for _, b := range blocks {
			if b.Kind == ToolResult && role == User {
				i := 0
				for i < len(last.Content) && last.Content[i].Kind == ToolResult {
					i++
				}
				last.Content = append(last.Content, Block{})
				copy(last.Content[i+1:], last.Content[i:])
				last.Content[i] = b
				continue
			}
			last.Content = append(last.Content, b)
		}
		return
	}
	d.r.Messages = append(msgs, Message{Role: role, Content: blocks})
}

func (d *respDecoder) toolChoice(doc *respChoiceDoc) error {
	c := &d.r.Choice
	if !doc.Set {
		return nil
	}
	c.Set = true
	if doc.IsString {
		switch doc.Str {
		case "auto":
			c.Mode = ChoiceAuto
		case "none":
			c.Mode = ChoiceNone
		case "required":
			c.Mode = ChoiceAny
		default:
			return fieldError("tool_choice", "unknown value %q (auto, none, required, or an object)", doc.Str)
		}
		return nil
	}
	if doc.bad != nil {
		return doc.bad.error("tool_choice")
	}
	switch doc.Type {
	case "function", "custom":
		name, ok := d.choiceName(doc.Namespace, doc.Name)
		if !ok {
			return fieldError("tool_choice.name", "no %s tool is named %q", doc.Type, doc.Name)
		}
		c.Mode, c.Name = ChoiceTool, name
	case "allowed_tools":
		switch doc.Mode {
		case "auto", "":
			c.Mode = ChoiceAuto
		case "required":
			c.Mode = ChoiceAny
		default:
			return fieldError("tool_choice.mode", "unknown mode %q (auto or required)", doc.Mode)
		}
		allowed := map[string]bool{}
		for _, t := range doc.Tools {
			if t.Type == "function" || t.Type == "custom" {
				allowed[flatName(t.Namespace, t.Name)] = true
			}
		}
		kept := d.r.Tools[:0]
		for _, t := range d.r.Tools {
			if allowed[t.Name] {
				kept = append(kept, t)
			}
		}
		d.r.Tools = kept
	case "":
		return fieldError("tool_choice.type", "a tool_choice object needs a type")
	default:
		return fieldError("tool_choice.type", "tool_choice %q forces a tool that only OpenAI's servers run, which this route cannot offer", doc.Type)
	}
	return nil
}

// choiceName finds the tool a tool_choice names. The spec gives
// tool_choice no namespace: a bare name that only one namespace's tool
// has means that tool.
func (d *respDecoder) choiceName(ns, name string) (string, bool) {
	flat := flatName(ns, name)
	if _, ok := d.toolAt[flat]; ok || ns != "" {
		return flat, ok
	}
	found := ""
	for tool, tns := range d.toolNS {
		if tns != "" && tool == flatName(tns, name) {
			if found != "" {
				return "", false
			}
			found = tool
		}
	}
	return found, found != ""
}

func (d *respDecoder) textFormat(t *respText) error {
	if t == nil || t.Format == nil {
		return nil
	}
	f := t.Format
	switch f.Type {
	case "text", "":
	case "json_object":
		d.r.JSONObject = true
	case "json_schema":
		if len(f.Schema) == 0 || f.Schema[0] != '{' {
			return fieldError("text.format.schema", "a json_schema format needs a schema object")
		}
		name := f.Name
		if name == "" {
			name = "response"
		}
		var b []byte
		b = append(b, `{"name":`...)
		b = AppendString(b, name)
		b = append(b, `,"schema":`...)
		b = append(b, compactRaw(f.Schema)...)
		if f.Strict != nil {
			b = append(b, `,"strict":`...)
			b = strconv.AppendBool(b, *f.Strict)
		}
		if f.Description != nil {
			b = append(b, `,"description":`...)
			b = AppendString(b, *f.Description)
		}
		d.r.Format = append(b, '}')
	default:
		return fieldError("text.format.type", "unknown format type %q (text, json_object or json_schema)", f.Type)
	}
	return nil
}

// ------------------------------------------------------- reading a request

// respReader reads a request into its documents. A value of the wrong
// type does not stop it, as it did not stop encoding/json: the first one
// is noted in bad, and the reader reads on (a syntax error does stop it,
// in jsonReader's err).
type respReader struct {
	jsonReader
	bad *typeError
}

// typeError is a value of the wrong type, worded as encoding/json worded
// it.
type typeError struct {
	field string // the member names that lead to it, joined by dots: encoding/json gave no indexes
	want  string // "a string", "an array", ...
	got   string // "number", "number 1.5", "object", ...
}

// error is the 400 for e, found in the value at prefix (the body when
// both are empty).
func (e *typeError) error(prefix string) *Error {
	param := joinField(prefix, e.field)
	if param == "" {
		param = "body"
	}
	return fieldError(param, "expected %s, got JSON %s", e.want, e.got)
}

func joinField(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "." + b
}

// syntaxError is the 400 for a body that is not JSON, in encoding/json's
// words. (The proxy refuses such a body before any decoder runs.)
func syntaxError(body []byte, err error) *Error {
	if e := json.Unmarshal(body, new(json.RawMessage)); e != nil {
		err = e
	}
	return fieldError("body", "not valid JSON: %v", err)
}

// kindName is encoding/json's name for a value of kind k.
func kindName(k byte) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't':
		return "bool"
	}
	return "number"
}

// fieldName names member name of the value at at, as a typeError does.
func fieldName(at *fieldPath, name string) string {
	if at == nil {
		return name
	}
	return joinField(at.String(), name)
}

// mismatch notes that member name of the value at at (the value itself
// when name is empty) is not what is wanted, and reads past it.
func (r *respReader) mismatch(at *fieldPath, name, want string) {
	if r.bad == nil {
		r.bad = &typeError{field: fieldName(at, name), want: want, got: kindName(r.kind())}
	}
	r.skip()
}

// foldKey is the member name key stands for: encoding/json matched names
// without regard to case, so a key with capitals (or the Kelvin sign, or
// the long s) is read in its folded lower case form, which is how every
// name it looks for is spelled.
func foldKey(key []byte) []byte {
	plain := true
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return key
	}
	out := make([]byte, 0, len(key))
	for _, c := range string(key) {
		c = unicode.ToUpper(unicode.ToLower(c)) // encoding/json's folding
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = utf8.AppendRune(out, c)
	}
	return out
}

// strField reads a string member into s; null leaves s as it was.
func (r *respReader) strField(s *string, at *fieldPath, name string) {
	switch r.kind() {
	case '"':
		*s = r.str()
	case 'n':
		r.null()
	default:
		r.mismatch(at, name, "a string")
	}
}

// enumField reads a string member that is usually one of usual without
// allocating for those.
func (r *respReader) enumField(s *string, at *fieldPath, name string, usual ...string) {
	switch r.kind() {
	case '"':
		*s = r.known(usual...)
	case 'n':
		r.null()
	default:
		r.mismatch(at, name, "a string")
	}
}

func (r *respReader) strPtr(s **string, at *fieldPath, name string) {
	switch r.kind() {
	case '"':
		v := r.str()
		*s = &v
	case 'n':
		r.null()
		*s = nil
	default:
		r.mismatch(at, name, "a string")
	}
}

func (r *respReader) boolPtr(b **bool, at *fieldPath, name string) {
	switch r.kind() {
	case 't':
		v := r.boolean()
		*b = &v
	case 'n':
		r.null()
		*b = nil
	default:
		r.mismatch(at, name, "a boolean")
	}
}

func (r *respReader) intPtr(n **int, at *fieldPath, name string) {
	switch r.kind() {
	case '0':
		lit := r.number()
		v, err := strconv.ParseInt(string(lit), 10, 0)
		if err != nil {
			r.badNumber(at, name, lit)
			return
		}
		i := int(v)
		*n = &i
	case 'n':
		r.null()
		*n = nil
	default:
		r.mismatch(at, name, "a number")
	}
}

func (r *respReader) floatPtr(f **float64, at *fieldPath, name string) {
	switch r.kind() {
	case '0':
		lit := r.number()
		v, err := strconv.ParseFloat(string(lit), 64)
		if err != nil {
			r.badNumber(at, name, lit)
			return
		}
		*f = &v
	case 'n':
		r.null()
		*f = nil
	default:
		r.mismatch(at, name, "a number")
	}
}

// badNumber notes a number out of its member's range.
func (r *respReader) badNumber(at *fieldPath, name string, lit []byte) {
	if r.bad == nil {
		r.bad = &typeError{field: fieldName(at, name), want: "a number", got: "number " + string(lit)}
	}
}

// objectAt starts reading member name of the value at at as an object:
// false, the value read, when it is null or not an object.
func (r *respReader) objectAt(at *fieldPath, name string) bool {
	switch r.kind() {
	case '{':
		return r.object()
	case 'n':
		r.null()
	default:
		r.mismatch(at, name, "an object")
	}
	return false
}

// arrayAt is objectAt for an array.
func (r *respReader) arrayAt(at *fieldPath, name string) bool {
	switch r.kind() {
	case '[':
		return r.array()
	case 'n':
		r.null()
	default:
		r.mismatch(at, name, "an array")
	}
	return false
}

// given reads past a value that is only refused: false for null.
func (r *respReader) given() bool {
	if r.null() {
		return false
	}
	r.skip()
	return true
}

// elemAt returns element i of *s, making room for it. An array member
// given twice is read into the same elements, as encoding/json did: it
// grew the slice one element at a time, reslicing within its capacity.
func elemAt[T any](s *[]T, i int) *T {
	if i == cap(*s) {
		*s = append(*s, *new(T))
	} else if i >= len(*s) {
		*s = (*s)[:i+1]
	}
	return &(*s)[i]
}

// endElems ends an array of n elements read with elemAt.
func endElems[T any](s []T, n int) []T {
	if n == 0 {
		return s[:0:0]
	}
	return s[:n]
}

func (r *respReader) readRequest(doc *respRequestDoc) {
	if !r.objectAt(nil, "") {
		return
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(foldKey(key)) {
		case "model":
			r.strField(&doc.Model, nil, "model")
		case "input":
			r.readInput(&doc.Input)
		case "instructions":
			doc.Instructions, doc.BadInstructions = "", false
			switch r.kind() {
			case '"':
				doc.Instructions = r.str()
			case 'n':
				r.null()
			default:
				doc.BadInstructions = true
				r.skip()
			}
		case "tools":
			r.readTools(doc)
		case "tool_choice":
			r.readToolChoice(&doc.ToolChoice)
		case "parallel_tool_calls":
			r.boolPtr(&doc.ParallelToolCalls, nil, "parallel_tool_calls")
		case "max_output_tokens":
			r.intPtr(&doc.MaxOutputTokens, nil, "max_output_tokens")
		case "temperature":
			r.floatPtr(&doc.Temperature, nil, "temperature")
		case "top_p":
			r.floatPtr(&doc.TopP, nil, "top_p")
		case "stream":
			r.boolPtr(&doc.Stream, nil, "stream")
		case "reasoning":
			r.readReasoning(doc)
		case "text":
			r.readText(doc)
		case "previous_response_id":
			r.strPtr(&doc.PreviousResponseID, nil, "previous_response_id")
		case "conversation":
			doc.Conversation = r.given()
		case "background":
			r.boolPtr(&doc.Background, nil, "background")
		case "prompt":
			doc.Prompt = r.given()
		case "user":
			r.strPtr(&doc.User, nil, "user")
		case "safety_identifier":
			r.strPtr(&doc.SafetyIdentifier, nil, "safety_identifier")
		default:
			r.skip()
		}
	}
}

func (r *respReader) readReasoning(doc *respRequestDoc) {
	if !r.objectAt(nil, "reasoning") {
		doc.Reasoning = nil
		return
	}
	if doc.Reasoning == nil {
		doc.Reasoning = new(respReasoning)
	}
	rs, at := doc.Reasoning, &fieldPath{name: "reasoning"}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(foldKey(key)) {
		case "effort":
			r.strPtr(&rs.Effort, at, "effort")
		case "summary":
			r.strPtr(&rs.Summary, at, "summary")
		case "generate_summary":
			r.strPtr(&rs.GenerateSummary, at, "generate_summary")
		default:
			r.skip()
		}
	}
}

func (r *respReader) readText(doc *respRequestDoc) {
	if !r.objectAt(nil, "text") {
		doc.Text = nil
		return
	}
	if doc.Text == nil {
		doc.Text = new(respText)
	}
	at := &fieldPath{name: "text"}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		if string(foldKey(key)) == "format" {
			r.readFormat(doc.Text, at)
		} else {
			r.skip()
		}
	}
}

func (r *respReader) readFormat(t *respText, at *fieldPath) {
	if !r.objectAt(at, "format") {
		t.Format = nil
		return
	}
	if t.Format == nil {
		t.Format = new(respFormat)
	}
	f, fp := t.Format, at.key("format")
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(foldKey(key)) {
		case "type":
			r.strField(&f.Type, &fp, "type")
		case "name":
			r.strField(&f.Name, &fp, "name")
		case "schema":
			f.Schema = r.raw()
		case "strict":
			r.boolPtr(&f.Strict, &fp, "strict")
		case "description":
			r.strPtr(&f.Description, &fp, "description")
		default:
			r.skip()
		}
	}
}

// readTools reads the tools member. What went wrong in a tool is noted
// twice: for the request, named from it (tools.name), and as the tool's
// own (tools[i].name), which is what is reported when the last tools
// member has one.
func (r *respReader) readTools(doc *respRequestDoc) {
	doc.toolBad = nil
	switch r.kind() {
	case 'n':
		r.null()
		doc.Tools = nil
		return
	case '[':
		r.array()
	default:
		doc.badTools = true
		r.mismatch(nil, "tools", "an array")
		return
	}
	n := 0
	for first := true; r.elem(first); first = false {
		bad := r.bad
		r.bad = nil
		r.readTool(elemAt(&doc.Tools, n), nil)
		if e := r.bad; e != nil {
			if doc.toolBad == nil {
				doc.toolBad, doc.toolBadAt = e, n
			}
			if bad == nil {
				bad = &typeError{field: joinField("tools", e.field), want: e.want, got: e.got}
			}
		}
		r.bad = bad
		n++
	}
	doc.Tools = endElems(doc.Tools, n)
}

// readTool reads one tool; at names the tool in errors.
func (r *respReader) readTool(t *respToolDoc, at *fieldPath) {
	if !r.objectAt(at, "") {
		return
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(foldKey(key)) {
		case "type":
			r.enumField(&t.Type, at, "type", "function", "custom", "namespace")
		case "name":
			r.strField(&t.Name, at, "name")
		case "description":
			r.strField(&t.Description, at, "description")
		case "parameters":
			t.Parameters = r.raw()
		case "format":
			t.Format = r.raw()
		case "tools":
			r.readToolList(&t.Tools, at)
		default:
			r.skip()
		}
	}
}

// readToolList reads the tools member of the value at at (a namespace,
// or an additional_tools item).
func (r *respReader) readToolList(tools *[]respToolDoc, at *fieldPath) {
	if !r.arrayAt(at, "tools") {
		*tools = nil
		return
	}
	if r.depth++; r.depth > maxDepth {
		r.fail(errTooDeep)
		return
	}
	tp := at.key("tools")
	n := 0
	for first := true; r.elem(first); first = false {
		r.readTool(elemAt(tools, n), &tp)
		n++
	}
	*tools = endElems(*tools, n)
	r.depth--
}

// readInput reads the input. Each item is read on its own: what went
// wrong in it is named from it.
func (r *respReader) readInput(in *respInput) {
	*in = respInput{kind: r.kind()}
	switch in.kind {
	case 'n':
		r.null()
		in.kind = 0
	case '"':
		in.text = r.str()
	case '[':
		bad := r.bad
		r.array()
		for first := true; r.elem(first); first = false {
			in.items = append(in.items, respItemDoc{})
			it := &in.items[len(in.items)-1]
			r.bad = nil
			r.readItem(it)
			it.bad = r.bad
		}
		r.bad = bad
	default:
		r.skip()
	}
}

func (r *respReader) readItem(it *respItemDoc) {
	if !r.objectAt(nil, "") {
		return
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		var abort *typeError
		switch string(foldKey(key)) {
		case "type":
			r.enumField(&it.Type, nil, "type", "message", "function_call", "function_call_output", "reasoning",
				"custom_tool_call", "custom_tool_call_output")
		case "role":
			r.enumField(&it.Role, nil, "role", "user", "assistant", "developer", "system")
		case "content":
			abort = r.readContent(&it.Content, "content")
		case "output":
			abort = r.readContent(&it.Output, "output")
		case "call_id":
			r.strField(&it.CallID, nil, "call_id")
		case "name":
			r.strField(&it.Name, nil, "name")
		case "namespace":
			r.strField(&it.Namespace, nil, "namespace")
		case "arguments":
			r.strField(&it.Arguments, nil, "arguments")
		case "input":
			r.strField(&it.Input, nil, "input")
		case "summary":
			r.readSummary(&it.Summary)
		case "encrypted_content":
			r.strPtr(&it.EncryptedContent, nil, "encrypted_content")
		case "tools":
			r.readToolList(&it.Tools, nil)
		default:
			r.skip()
		}
		if it.abort == nil {
			it.abort = abort
		}
	}
}

// readContent reads a message's content or a tool's output (member name):
// a string, an array of parts, or null. It returns what went wrong, which
// ended encoding/json's reading of the item (an UnmarshalJSON method read
// the content): the item's error, whatever went wrong before it.
func (r *respReader) readContent(c *respContent, name string) *typeError {
	switch k := r.kind(); k {
	case 'n':
		r.null()
		return nil
	case '"':
		c.Str = r.str()
		return nil
	case '[':
	default:
		r.skip()
		return &typeError{field: name, want: "a string or an array of content parts", got: kindName(k)}
	}
	c.IsParts = true
	bad := r.bad
	r.bad = nil
	r.array()
	at := &fieldPath{name: name}
	n := 0
	for first := true; r.elem(first); first = false {
		r.readPart(elemAt(&c.Parts, n), at)
		n++
	}
	c.Parts = endElems(c.Parts, n)
	e := r.bad
	r.bad = bad
	return e
}

func (r *respReader) readPart(p *respPartDoc, at *fieldPath) {
	if !r.objectAt(at, "") {
		return
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(foldKey(key)) {
		case "type":
			r.enumField(&p.Type, at, "type", "input_text", "output_text", "input_image", "summary_text", "reasoning_text", "refusal")
		case "text":
			r.strPtr(&p.Text, at, "text")
		case "refusal":
			r.strPtr(&p.Refusal, at, "refusal")
		case "image_url":
			r.strPtr(&p.ImageURL, at, "image_url")
		case "file_id":
			r.strPtr(&p.FileID, at, "file_id")
		default:
			r.skip()
		}
	}
}

func (r *respReader) readSummary(s *[]respSummaryPart) {
	if !r.arrayAt(nil, "summary") {
		*s = nil
		return
	}
	at := &fieldPath{name: "summary"}
	n := 0
	for first := true; r.elem(first); first = false {
		p := elemAt(s, n)
		n++
		if !r.objectAt(at, "") {
			continue
		}
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(foldKey(key)) {
			case "type":
				r.enumField(&p.Type, at, "type", "summary_text")
			case "text":
				r.strField(&p.Text, at, "text")
			default:
				r.skip()
			}
		}
	}
	*s = endElems(*s, n)
}

// readToolChoice reads tool_choice, on its own: what went wrong in it is
// named from it.
func (r *respReader) readToolChoice(c *respChoiceDoc) {
	*c = respChoiceDoc{}
	switch r.kind() {
	case 'n':
		r.null()
		return
	case '"':
		c.Set, c.IsString, c.Str = true, true, r.str()
		return
	}
	c.Set = true
	bad := r.bad
	r.bad = nil
	if r.objectAt(nil, "") {
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(foldKey(key)) {
			case "type":
				r.strField(&c.Type, nil, "type")
			case "name":
				r.strField(&c.Name, nil, "name")
			case "namespace":
				r.strField(&c.Namespace, nil, "namespace")
			case "mode":
				r.strField(&c.Mode, nil, "mode")
			case "tools":
				r.readChoiceTools(&c.Tools)
			default:
				r.skip()
			}
		}
	}
	c.bad = r.bad
	r.bad = bad
}

func (r *respReader) readChoiceTools(tools *[]respChoiceTool) {
	if !r.arrayAt(nil, "tools") {
		*tools = nil
		return
	}
	at := &fieldPath{name: "tools"}
	n := 0
	for first := true; r.elem(first); first = false {
		t := elemAt(tools, n)
		n++
		if !r.objectAt(at, "") {
			continue
		}
		for first := true; ; first = false {
			key, ok := r.member(first)
			if !ok {
				break
			}
			switch string(foldKey(key)) {
			case "type":
				r.strField(&t.Type, at, "type")
			case "name":
				r.strField(&t.Name, at, "name")
			case "namespace":
				r.strField(&t.Namespace, at, "namespace")
			default:
				r.skip()
			}
		}
	}
	*tools = endElems(*tools, n)
}

// compactRaw returns a JSON value, checked already, without the white
// space between its tokens: raw itself when it has none.
func compactRaw(raw []byte) []byte {
	var out []byte
	start := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			if i = stringEnd(raw, i+1); i < 0 {
				return raw
			}
		case ' ', '\t', '\n', '\r':
			if out == nil {
				out = make([]byte, 0, len(raw))
			}
			out = append(out, raw[start:i]...)
			start = i + 1
		}
	}
	if out == nil {
		return raw
	}
	return append(out, raw[start:]...)
}

// appendRawJSON appends a JSON value on one line, as an SSE data line
// needs; the decoder compacted what it kept, so this rarely has work.
func appendRawJSON(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return append(dst, raw...)
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return append(dst, "null"...)
	}
	return append(dst, b.Bytes()...)
}

// ----------------------------------------------------------------- answer

type itemKind uint8

const (
	itemMessage itemKind = iota
	itemReasoning
	itemRedacted
	itemFunction
	itemCustom
)

// respItem is one output item, with what its done event and the final
// response object need: the text, the reasoning, the arguments or the
// custom tool's input so far.
type respItem struct {
	kind      itemKind
	done      bool
	partOpen  bool // reasoning: its summary part was announced
	rawInput  bool // custom: the upstream sends the input itself, not {"input": ...}
	id        string
	callID    string
	name      string
	namespace string
	sig       string // reasoning: the signature; redacted: the data
	text      strings.Builder
	args      []byte // custom: the upstream's arguments, for the fallback at the end
	un        inputUnwrapper
	// Once done: the text as a JSON string, escaped once for the four
	// events that repeat it, and a reasoning item's encrypted_content
	// (a JSON string too).
	quoted []byte
	sealed []byte
}

// seal marks an item done, its content final.
func (it *respItem) seal() {
	text := it.text.String()
	it.quoted = AppendString(make([]byte, 0, len(text)+8), text)
	switch it.kind {
	case itemReasoning:
		it.sealed = append(sealThinking(append(make([]byte, 0, 32+len(text)*4/3), '"'), text, it.sig), '"')
	case itemRedacted:
		it.sealed = AppendString(nil, redactedPrefix+it.sig)
	}
	it.text.Reset() // what follows reads quoted
	it.args = nil
	it.done = true
}

// responsesEncoder writes a Responses answer: the whole object
// (encodeResponsesResponse) or its stream, one internal event at a time.
// It keeps the output items for the final response.completed.
type responsesEncoder struct {
	newID   func(prefix string) string
	nss     []string // flattened namespaces, for mapping calls back
	tools   []Tool
	summary bool   // the client asked for reasoning summaries
	echo    []byte // the request settings every response object repeats

	seq            int64
	started, ended bool
	id, model      string
	created        int64
	usage          Usage
	items          []*respItem // pointers: an item's strings.Builder must not be copied
	byBlock        []int32     // block Index → items index; -1: none, -2: ignored
	// keep: the encoder resumes a stream that passed through (SPEC 11):
	// the response and its items keep the ids the client has.
	keep bool
}

func newResponsesEncoder(req *Request) Encoder { return newRespEncoder(req, NewID) }

func newRespEncoder(req *Request, newID func(string) string) *responsesEncoder {
	e := &responsesEncoder{newID: newID, nss: flattenedNamespaces(req)}
	if req != nil {
		e.tools, e.summary, e.model = req.Tools, req.Reasoning.Summary, req.Model
	}
	size := 600
	if req != nil {
		for i := range req.Tools {
			t := &req.Tools[i]
			size += 64 + len(t.Name) + len(t.Description) + len(t.Schema) + len(t.Format)
		}
	}
	e.echo = appendEcho(make([]byte, 0, size), req)
	return e
}

func encodeResponsesResponse(r *Response, req *Request) []byte {
	return encodeRespResponse(r, req, NewID)
}

func encodeRespResponse(r *Response, req *Request, newID func(string) string) []byte {
	e := newRespEncoder(req, newID)
	e.begin("", r.Model, r.Created)
	for i := range r.Content {
		b := &r.Content[i]
		it := e.open(b, "")
		if it == nil {
			continue
		}
		switch b.Kind {
		case Text, Thinking:
			it.text.WriteString(b.Text)
		case ToolCall:
			e.feed(it, b.Input)
		}
		if b.Kind == Thinking {
			it.sig = b.Signature
		}
		e.finish(it)
		it.seal()
	}
	e.usage = r.Usage
	status, reason := stopStatus(r.Stop)
	return e.appendResponse(nil, status, reason, nil)
}

// stopStatus is the response status (and incomplete reason) for a stop.
func stopStatus(s StopReason) (status, reason string) {
	switch s {
	case StopMaxTokens:
		return "incomplete", "max_output_tokens"
	case StopRefusal:
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// begin fixes the response's id (minted when id is ""), model and
// creation time.
func (e *responsesEncoder) begin(id, model string, created int64) {
	e.started = true
	e.id = id
	if id == "" {
		e.id = e.newID("resp_")
	}
	if model != "" {
		e.model = model
	}
	e.created = created
	if e.created == 0 {
		e.created = time.Now().Unix()
	}
}

// open adds the output item for block b; nil for a block no item shows
// (an image the model made, say). item is the id the client already has
// for it, kept when the encoder resumes a stream that passed through.
func (e *responsesEncoder) open(b *Block, item string) *respItem {
	var it *respItem
	add := func(kind itemKind, prefix string) {
		id := item
		if !e.keep || !e.freeItemID(id) {
			id = e.newID(prefix)
		}
		it = &respItem{kind: kind, id: id}
		e.items = append(e.items, it)
	}
	switch b.Kind {
	case Text:
		add(itemMessage, "msg_")
	case Thinking:
		add(itemReasoning, "rs_")
	case RedactedThinking:
		add(itemRedacted, "rs_")
		it.sig = b.Data
	case ToolCall:
		if b.Custom || e.isCustom(b.Name) {
			add(itemCustom, "ctc_")
			it.rawInput = b.Custom
		} else {
			add(itemFunction, "fc_")
		}
		it.callID = callID(b.ID, e.newID)
		for _, other := range e.items[:len(e.items)-1] {
			if other.callID == it.callID { // an upstream that repeats ids; SDKs reject that
				it.callID = e.newID("call_")
				break
			}
		}
		it.namespace, it.name = splitFlat(e.nss, b.Name)
	}
	return it
}

// freeItemID reports whether an upstream's item id can be kept: not
// empty, not taken, and of the bytes the events write unescaped.
func (e *responsesEncoder) freeItemID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isIDByte(id[i]) {
			return false
		}
	}
	for _, it := range e.items {
		if it.id == id {
			return false
		}
	}
	return true
}

func (e *responsesEncoder) isCustom(name string) bool {
	for i := range e.tools {
		if e.tools[i].Name == name {
			return e.tools[i].Custom
		}
	}
	return false
}

// feed adds a piece of a tool call's input and returns what the client
// sees of it: the arguments as they are, or for a custom tool the part of
// the "input" string decoded so far.
func (e *responsesEncoder) feed(it *respItem, piece string) string {
	if it.kind != itemCustom || it.rawInput {
		it.text.WriteString(piece)
		return piece
	}
	it.args = append(it.args, piece...)
	n := it.text.Len()
	it.un.feed(&it.text, piece)
	return it.text.String()[n:]
}

// finish completes an item's content and returns what its last delta
// must add: "{}" for a call streamed without arguments, or a custom
// tool's input when the arguments were not the {"input": ...} expected.
func (e *responsesEncoder) finish(it *respItem) string {
	switch it.kind {
	case itemFunction:
		if it.text.Len() == 0 {
			it.text.WriteString("{}")
			return "{}"
		}
	case itemCustom:
		if it.rawInput || it.un.started() {
			return ""
		}
		in := unwrapCustomInput(it.args)
		it.text.WriteString(in)
		return in
	}
	return ""
}

// unwrapCustomInput reads a custom tool's input out of the function arguments
// the upstream model wrote: {"input": "..."}, or any object with one
// string, or whatever else it wrote, as is.
func unwrapCustomInput(args []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(args, &m) == nil {
		var s string
		if raw, ok := m["input"]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
		if len(m) == 1 {
			for _, raw := range m {
				if json.Unmarshal(raw, &s) == nil {
					return s
				}
			}
		}
	}
	return string(args)
}

// callID gives an upstream's tool call id the call_ prefix; ids that are
// not [A-Za-z0-9_-] are mended so every upstream accepts them back.
func callID(id string, newID func(string) string) string {
	if id == "" {
		return newID("call_")
	}
	rest, ok := strings.CutPrefix(id, "call_")
	if !ok {
		rest = strings.TrimPrefix(id, "toolu_")
	}
	clean := true
	for i := 0; i < len(rest); i++ {
		if !isIDByte(rest[i]) {
			clean = false
			break
		}
	}
	if clean {
		if ok {
			return id
		}
		return "call_" + rest
	}
	b := make([]byte, 0, len(rest)+5)
	b = append(b, "call_"...)
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !isIDByte(c) {
			c = '_'
		}
		b = append(b, c)
	}
	return string(b)
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// inputUnwrapper reads the string value of "input" out of a JSON object
// that arrives in pieces, so a custom tool's input streams as the
// upstream writes it. Anything but {"input": "..."} (first key) stops it;
// the input is then read whole at the end.
type inputUnwrapper struct {
	state uint8
	key   []byte
	code  rune // \uXXXX being read
	high  rune // a high surrogate waiting for its low half
	n     int  // hex digits read
}

const (
	uwStart  = iota // before '{'
	uwKey           // before the key's '"'
	uwKeyStr        // in the key
	uwColon         // before ':'
	uwValue         // before the value's '"'
	uwStr           // in the value
	uwEsc           // after '\'
	uwHex           // in \uXXXX
	uwLowEsc        // after a high surrogate: expecting '\'
	uwLowU          // expecting 'u'
	uwDone          // the value ended
	uwFail          // not the shape expected
)

// started reports that the value was reached: what was written so far is
// the input's beginning.
func (u *inputUnwrapper) started() bool { return u.state >= uwStr && u.state <= uwDone }

func (u *inputUnwrapper) feed(out *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch u.state {
		case uwStart, uwKey, uwColon, uwValue:
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				continue
			}
			want := [...]byte{uwStart: '{', uwKey: '"', uwColon: ':', uwValue: '"'}[u.state]
			if c != want {
				u.state = uwFail
				return
			}
			u.state++
		case uwKeyStr:
			if c == '"' {
				if string(u.key) != "input" {
					u.state = uwFail
					return
				}
				u.state = uwColon
				continue
			}
			if c == '\\' || len(u.key) >= 5 {
				u.state = uwFail
				return
			}
			u.key = append(u.key, c)
		case uwStr:
			j := i
			for j < len(s) && s[j] != '"' && s[j] != '\\' {
				j++
			}
			out.WriteString(s[i:j])
			i = j
			if j == len(s) {
				return
			}
			if s[j] == '"' {
				u.state = uwDone
				return
			}
			u.state = uwEsc
		case uwEsc:
			u.state = uwStr
			switch c {
			case 'n':
				out.WriteByte('\n')
			case 't':
				out.WriteByte('\t')
			case 'r':
				out.WriteByte('\r')
			case 'b':
				out.WriteByte('\b')
			case 'f':
				out.WriteByte('\f')
			case 'u':
				u.state, u.code, u.n = uwHex, 0, 0
			default: // '"', '\\', '/', and (leniently) anything else as itself
				out.WriteByte(c)
			}
		case uwHex:
			v := hexVal(c)
			if v < 0 {
				u.flushHigh(out)
				out.WriteRune(utf8.RuneError)
				u.state = uwStr
				i-- // read c again as text
				continue
			}
			u.code = u.code<<4 | rune(v)
			if u.n++; u.n < 4 {
				continue
			}
			u.state = uwStr
			switch {
			case u.high != 0 && utf16.IsSurrogate(u.code) && u.code >= 0xdc00:
				out.WriteRune(utf16.DecodeRune(u.high, u.code))
				u.high = 0
			case u.code >= 0xd800 && u.code < 0xdc00:
				u.flushHigh(out)
				u.high, u.state = u.code, uwLowEsc
			default:
				u.flushHigh(out)
				if utf16.IsSurrogate(u.code) {
					out.WriteRune(utf8.RuneError)
				} else {
					out.WriteRune(u.code)
				}
			}
		case uwLowEsc, uwLowU:
			if c == [...]byte{uwLowEsc: '\\', uwLowU: 'u'}[u.state] {
				if u.state == uwLowU {
					u.state, u.code, u.n = uwHex, 0, 0
				} else {
					u.state = uwLowU
				}
				continue
			}
			u.flushHigh(out)
			if u.state == uwLowU { // "\x" after a high surrogate: an ordinary escape
				u.state = uwEsc
			} else {
				u.state = uwStr
			}
			i--
		default: // uwDone, uwFail
			return
		}
	}
}

// flushHigh writes a high surrogate that found no low half.
func (u *inputUnwrapper) flushHigh(out *strings.Builder) {
	if u.high != 0 {
		out.WriteRune(utf8.RuneError)
		u.high = 0
	}
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// ------------------------------------------------------------ the stream

// Encode appends the frames for ev. The first call writes
// response.created and response.in_progress: when to commit is the
// proxy's business.
func (e *responsesEncoder) Encode(dst []byte, ev *Event) []byte {
	if e.ended {
		return dst
	}
	if !e.started {
		switch {
		case ev.Kind == EvStart && ev.KeepID && ev.ID != "":
			// The client has this response from a stream that passed
			// through: resuming it, its ids stand.
			e.keep = true
			e.begin(ev.ID, ev.Model, ev.Created)
		case ev.Kind == EvStart:
			e.begin("", ev.Model, ev.Created)
		default:
			e.begin("", "", 0)
		}
		dst = e.lifecycle(dst, "response.created", "in_progress", "", nil)
		dst = e.lifecycle(dst, "response.in_progress", "in_progress", "", nil)
	}
	switch ev.Kind {
	case EvStart, EvUsage:
		if ev.Usage != (Usage{}) {
			e.usage = ev.Usage
		}
	case EvBlockStart:
		dst = e.blockStart(dst, ev)
	case EvDelta:
		if it, i := e.item(ev.Index); it != nil {
			dst = e.delta(dst, it, i, ev.Text)
		}
	case EvSignature:
		if it, _ := e.item(ev.Index); it != nil && it.kind == itemReasoning {
			it.sig = ev.Text
		}
	case EvBlockStop:
		if it, i := e.item(ev.Index); it != nil {
			dst = e.itemDone(dst, it, i)
			e.byBlock[ev.Index] = -2
		}
	case EvStop:
		if ev.Usage != (Usage{}) {
			e.usage = ev.Usage
		}
		for i, it := range e.items {
			if !it.done {
				dst = e.itemDone(dst, it, i)
			}
		}
		status, reason := stopStatus(ev.Stop)
		dst = e.lifecycle(dst, "response."+status, status, reason, nil)
		e.ended = true
	}
	return dst
}

// Fail ends a stream that broke: response.failed, then an error event,
// which every SDK raises (openai-node reads the nested error, openai-python
// any "error" member, Codex the failed response's error).
func (e *responsesEncoder) Fail(dst []byte, err *Error) []byte {
	if e.ended {
		return dst
	}
	if err == nil {
		err = ErrIncomplete
	}
	if !e.started {
		e.begin("", "", 0)
		dst = e.lifecycle(dst, "response.created", "in_progress", "", nil)
		dst = e.lifecycle(dst, "response.in_progress", "in_progress", "", nil)
	}
	e.ended = true
	dst = e.lifecycle(dst, "response.failed", "failed", "", err)
	code, msg := failCode(err), err.Error()
	dst = e.ev(dst, "error")
	dst = append(dst, `,"code":`...)
	dst = AppendString(dst, code)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, msg)
	dst = append(dst, `,"param":null,"error":{"type":`...)
	dst = AppendString(dst, cmpOr(err.Type, "server_error"))
	dst = append(dst, `,"code":`...)
	dst = AppendString(dst, code)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, msg)
	dst = append(dst, `,"param":null}`...)
	return endEv(dst)
}

// ResumeAfter tells an encoder that replayed what a stream which passed
// through had sent (Event.KeepID) the sequence number of the last event
// the client got: a Responses client's events are numbered, and the
// resumed stream's must follow on from the upstream's. Other dialects'
// encoders number nothing.
func ResumeAfter(enc Encoder, seq int64) {
	if e, ok := enc.(*responsesEncoder); ok {
		e.seq = seq + 1
	}
}

// failCode is the error code a broken stream reports; Codex retries on
// any but a few (context_length_exceeded, insufficient_quota).
func failCode(err *Error) string {
	if err.Code != "" {
		return err.Code
	}
	if err.Status == http.StatusTooManyRequests {
		return "rate_limit_exceeded"
	}
	return "server_error"
}

// item finds the open item of block index.
func (e *responsesEncoder) item(index int) (*respItem, int) {
	if index < 0 || index >= len(e.byBlock) || e.byBlock[index] < 0 {
		return nil, -1
	}
	i := int(e.byBlock[index])
	return e.items[i], i
}

func (e *responsesEncoder) blockStart(dst []byte, ev *Event) []byte {
	idx := ev.Index
	if idx < 0 || idx > 1<<20 {
		return dst
	}
	for len(e.byBlock) <= idx {
		e.byBlock = append(e.byBlock, -1)
	}
	if e.byBlock[idx] != -1 {
		return dst // open already (a continued answer), or closed
	}
	it := e.open(&ev.Block, ev.Item)
	if it == nil {
		e.byBlock[idx] = -2
		return dst
	}
	i := len(e.items) - 1
	e.byBlock[idx] = int32(i)
	dst = e.ev(dst, "response.output_item.added")
	dst = appendIndex(dst, `,"output_index":`, i)
	dst = append(dst, `,"item":`...)
	dst = e.appendItem(dst, it)
	dst = endEv(dst)
	if it.kind == itemMessage {
		dst = e.itemEv(dst, "response.content_part.added", it, i)
		dst = append(dst, `,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}`...)
		dst = endEv(dst)
	}
	// Content that came with the start (a decoder may send it there).
	if ev.Block.Kind == ToolCall {
		dst = e.delta(dst, it, i, ev.Block.Input)
	} else {
		dst = e.delta(dst, it, i, ev.Block.Text)
	}
	return dst
}

func (e *responsesEncoder) delta(dst []byte, it *respItem, i int, text string) []byte {
	if text == "" {
		return dst
	}
	switch it.kind {
	case itemMessage:
		it.text.WriteString(text)
		dst = e.itemEv(dst, "response.output_text.delta", it, i)
		dst = append(dst, `,"content_index":0,"delta":`...)
		dst = AppendString(dst, text)
		dst = append(dst, `,"logprobs":[]`...)
	case itemReasoning:
		it.text.WriteString(text)
		if !e.summary {
			return dst
		}
		if !it.partOpen {
			it.partOpen = true
			dst = e.itemEv(dst, "response.reasoning_summary_part.added", it, i)
			dst = append(dst, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
			dst = endEv(dst)
		}
		dst = e.itemEv(dst, "response.reasoning_summary_text.delta", it, i)
		dst = append(dst, `,"summary_index":0,"delta":`...)
		dst = AppendString(dst, text)
	case itemFunction:
		dst = e.itemEv(dst, "response.function_call_arguments.delta", it, i)
		dst = append(dst, `,"delta":`...)
		dst = AppendString(dst, e.feed(it, text))
	case itemCustom:
		piece := e.feed(it, text)
		if piece == "" {
			return dst
		}
		dst = e.itemEv(dst, "response.custom_tool_call_input.delta", it, i)
		dst = append(dst, `,"delta":`...)
		dst = AppendString(dst, piece)
	default:
		return dst
	}
	return endEv(dst)
}

// itemDone closes item i: its .done events, then output_item.done.
func (e *responsesEncoder) itemDone(dst []byte, it *respItem, i int) []byte {
	if last := e.finish(it); last != "" {
		typ := "response.function_call_arguments.delta"
		if it.kind == itemCustom {
			typ = "response.custom_tool_call_input.delta"
		}
		dst = e.itemEv(dst, typ, it, i)
		dst = append(dst, `,"delta":`...)
		dst = AppendString(dst, last)
		dst = endEv(dst)
	}
	it.seal()
	text := it.quoted
	switch it.kind {
	case itemMessage:
		dst = e.itemEv(dst, "response.output_text.done", it, i)
		dst = append(dst, `,"content_index":0,"text":`...)
		dst = append(dst, text...)
		dst = append(dst, `,"logprobs":[]`...)
		dst = endEv(dst)
		dst = e.itemEv(dst, "response.content_part.done", it, i)
		dst = append(dst, `,"content_index":0,"part":`...)
		dst = appendOutputText(dst, text)
		dst = endEv(dst)
	case itemReasoning:
		if it.partOpen {
			dst = e.itemEv(dst, "response.reasoning_summary_text.done", it, i)
			dst = append(dst, `,"summary_index":0,"text":`...)
			dst = append(dst, text...)
			dst = endEv(dst)
			dst = e.itemEv(dst, "response.reasoning_summary_part.done", it, i)
			dst = append(dst, `,"summary_index":0,"part":{"type":"summary_text","text":`...)
			dst = append(dst, text...)
			dst = append(dst, '}')
			dst = endEv(dst)
		}
	case itemFunction:
		dst = e.itemEv(dst, "response.function_call_arguments.done", it, i)
		dst = append(dst, `,"arguments":`...)
		dst = append(dst, text...)
		dst = endEv(dst)
	case itemCustom:
		dst = e.itemEv(dst, "response.custom_tool_call_input.done", it, i)
		dst = append(dst, `,"input":`...)
		dst = append(dst, text...)
		dst = endEv(dst)
	}
	dst = e.ev(dst, "response.output_item.done")
	dst = appendIndex(dst, `,"output_index":`, i)
	dst = append(dst, `,"item":`...)
	dst = e.appendItem(dst, it)
	return endEv(dst)
}

// lifecycle writes an event that carries the whole response object.
func (e *responsesEncoder) lifecycle(dst []byte, typ, status, reason string, err *Error) []byte {
	dst = e.ev(dst, typ)
	dst = append(dst, `,"response":`...)
	dst = e.appendResponse(dst, status, reason, err)
	return endEv(dst)
}

// ev starts an event frame: its name, and the data's type and sequence
// number; endEv closes it.
func (e *responsesEncoder) ev(dst []byte, typ string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, `","sequence_number":`...)
	dst = strconv.AppendInt(dst, e.seq, 10)
	e.seq++
	return dst
}

func endEv(dst []byte) []byte { return append(dst, "}\n\n"...) }

// itemEv starts an event about item i.
func (e *responsesEncoder) itemEv(dst []byte, typ string, it *respItem, i int) []byte {
	dst = e.ev(dst, typ)
	dst = append(dst, `,"item_id":"`...)
	dst = append(dst, it.id...) // minted here, or kept only when [A-Za-z0-9_-] (freeItemID)
	dst = append(dst, '"')
	return appendIndex(dst, `,"output_index":`, i)
}

func appendIndex(dst []byte, key string, i int) []byte {
	dst = append(dst, key...)
	return strconv.AppendInt(dst, int64(i), 10)
}

// appendOutputText writes an output_text part; quoted is its text as a
// JSON string.
func appendOutputText(dst, quoted []byte) []byte {
	dst = append(dst, `{"type":"output_text","text":`...)
	dst = append(dst, quoted...)
	return append(dst, `,"annotations":[],"logprobs":[]}`...)
}

// appendItem writes an output item as it stands: in progress with empty
// content until it is done.
func (e *responsesEncoder) appendItem(dst []byte, it *respItem) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, it.id)
	status := `"in_progress"`
	if it.done {
		status = `"completed"`
	}
	switch it.kind {
	case itemMessage:
		dst = append(dst, `,"type":"message","status":`...)
		dst = append(dst, status...)
		dst = append(dst, `,"role":"assistant","content":[`...)
		if it.done {
			dst = appendOutputText(dst, it.quoted)
		}
		return append(dst, "]}"...)
	case itemReasoning, itemRedacted:
		dst = append(dst, `,"type":"reasoning","summary":[`...)
		if it.done && e.summary && it.kind == itemReasoning && len(it.quoted) > 2 {
			dst = append(dst, `{"type":"summary_text","text":`...)
			dst = append(dst, it.quoted...)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
		if it.done {
			dst = append(dst, `,"encrypted_content":`...)
			dst = append(dst, it.sealed...)
		}
		return append(dst, '}')
	}
	if it.kind == itemFunction {
		dst = append(dst, `,"type":"function_call","status":`...)
		dst = append(dst, status...)
		dst = append(dst, `,"arguments":`...)
	} else {
		dst = append(dst, `,"type":"custom_tool_call","status":`...)
		dst = append(dst, status...)
		dst = append(dst, `,"input":`...)
	}
	if it.done {
		dst = append(dst, it.quoted...)
	} else {
		dst = append(dst, `""`...)
	}
	dst = append(dst, `,"call_id":`...)
	dst = AppendString(dst, it.callID)
	dst = append(dst, `,"name":`...)
	dst = AppendString(dst, it.name)
	if it.namespace != "" {
		dst = append(dst, `,"namespace":`...)
		dst = AppendString(dst, it.namespace)
	}
	return append(dst, '}')
}

// appendResponse writes the response object: the finished output items,
// usage once the response has ended, and the request's settings.
func (e *responsesEncoder) appendResponse(dst []byte, status, reason string, err *Error) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, e.id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, e.created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","background":false,"error":`...)
	if err != nil {
		dst = append(dst, `{"code":`...)
		dst = AppendString(dst, failCode(err))
		dst = append(dst, `,"message":`...)
		dst = AppendString(dst, err.Error())
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"incomplete_details":`...)
	if reason != "" {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, reason...)
		dst = append(dst, `"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"model":`...)
	dst = AppendString(dst, e.model)
	dst = append(dst, `,"output":[`...)
	n := 0
	for _, it := range e.items {
		if !it.done {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = e.appendItem(dst, it)
	}
	dst = append(dst, `],"usage":`...)
	if status == "in_progress" {
		dst = append(dst, "null"...)
	} else {
		dst = appendRespUsage(dst, e.usage)
	}
	dst = append(dst, e.echo...)
	return append(dst, '}')
}

func appendRespUsage(dst []byte, u Usage) []byte {
	total := u.Total
	if total == 0 {
		total = u.Prompt + u.Completion
	}
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, u.Prompt, 10)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.Cached, 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, u.Completion, 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, u.Reasoning, 10)
	dst = append(dst, `},"total_tokens":`...)
	dst = strconv.AppendInt(dst, total, 10)
	return append(dst, '}')
}

// appendEcho writes the settings a response object repeats from its
// request, as this route honoured them: the tools the upstream model was
// offered (namespaces flattened), instructions folded into the system
// text (so null), nothing stored.
func appendEcho(dst []byte, req *Request) []byte {
	if req == nil {
		req = &Request{}
	}
	dst = append(dst, `,"instructions":null,"max_output_tokens":`...)
	if req.MaxTokens > 0 {
		dst = strconv.AppendInt(dst, int64(req.MaxTokens), 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"max_tool_calls":null,"parallel_tool_calls":`...)
	dst = strconv.AppendBool(dst, req.Parallel == nil || *req.Parallel)
	dst = append(dst, `,"previous_response_id":null,"reasoning":{"effort":`...)
	if req.Reasoning.Off {
		dst = append(dst, `"none"`...)
	} else if req.Reasoning.Effort != "" {
		dst = AppendString(dst, req.Reasoning.Effort)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"summary":`...)
	if req.Reasoning.Summary {
		dst = append(dst, `"auto"`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `},"store":false,"temperature":`...)
	dst = appendFloatOr1(dst, req.Temperature)
	dst = append(dst, `,"text":{"format":`...)
	switch {
	case len(req.Format) > 1 && req.Format[0] == '{':
		dst = append(dst, `{"type":"json_schema",`...)
		dst = append(dst, req.Format[1:]...)
	case req.JSONObject:
		dst = append(dst, `{"type":"json_object"}`...)
	default:
		dst = append(dst, `{"type":"text"}`...)
	}
	dst = append(dst, `,"verbosity":"medium"},"tool_choice":`...)
	dst = appendChoice(dst, req)
	dst = append(dst, `,"tools":[`...)
	for i, t := range req.Tools {
		if i > 0 {
			dst = append(dst, ',')
		}
		if t.Custom {
			dst = append(dst, `{"type":"custom","name":`...)
		} else {
			dst = append(dst, `{"type":"function","name":`...)
		}
		dst = AppendString(dst, t.Name)
		dst = append(dst, `,"description":`...)
		dst = AppendString(dst, t.Description)
		if t.Custom {
			dst = append(dst, `,"format":`...)
			if len(t.Format) > 0 {
				dst = appendRawJSON(dst, t.Format)
			} else {
				dst = append(dst, `{"type":"text"}`...)
			}
		} else {
			dst = append(dst, `,"parameters":`...)
			dst = appendRawJSON(dst, t.Schema)
			dst = append(dst, `,"strict":false`...)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"top_logprobs":0,"top_p":`...)
	dst = appendFloatOr1(dst, req.TopP)
	dst = append(dst, `,"truncation":"disabled","user":`...)
	if req.User != "" {
		dst = AppendString(dst, req.User)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `,"metadata":{}`...)
}

func appendFloatOr1(dst []byte, f *float64) []byte {
	if f == nil {
		return append(dst, '1')
	}
	return strconv.AppendFloat(dst, *f, 'g', -1, 64)
}

func appendChoice(dst []byte, req *Request) []byte {
	switch req.Choice.Mode {
	case ChoiceNone:
		return append(dst, `"none"`...)
	case ChoiceAny:
		return append(dst, `"required"`...)
	case ChoiceTool:
		typ := `{"type":"function","name":`
		for _, t := range req.Tools {
			if t.Name == req.Choice.Name && t.Custom {
				typ = `{"type":"custom","name":`
			}
		}
		dst = append(dst, typ...)
		dst = AppendString(dst, req.Choice.Name)
		return append(dst, '}')
	}
	return append(dst, `"auto"`...)
}

// ------------------------------------------------- the stream, from a channel

// responsesDecoder reads a Responses channel's stream. Catfish speaks
// Responses to a channel only on a Responses client's behalf, passing
// the stream through: the decoder follows such a stream on the side, so
// that a break can be continued elsewhere (SPEC 11), and reads a
// continuation that comes from such a channel.
//
// Each output item is a block: a message is text, a reasoning item
// thinking (its summary, or its reasoning text), a function or custom
// tool call a tool call. Items come one after another: one that opens
// closes the one before. What the internal form cannot carry comes out as
// EvOpaque: an item of another type (a hosted tool's call), a refusal
// part, an annotation, a message's second part (whose text still goes
// into the message's block).
type responsesDecoder struct {
	r       jsonReader
	ev      respStreamEvent
	started bool
	stopped bool
	calls   bool // a tool call came: a completed answer stops for tool use
	refused bool // a refusal came
	blocks  int  // blocks opened so far
	open    int  // the output index of the item whose block is open; -1: none
	items   []respStreamItem
}

// maxOutputItems bounds the output index of a stream's items: the
// decoder keeps a little state for each.
const maxOutputItems = 4096

// respStreamItem is what the decoder knows of one output item.
type respStreamItem struct {
	state  uint8
	kind   itemKind
	block  int
	got    bool  // content came: a done event's whole text is not needed
	part   int   // reasoning: the part being read; -1: none yet
	source uint8 // reasoning: where its text comes from (the first seen wins)
	opaque bool  // EvOpaque was sent for it
}

// The states of an output item.
const (
	itemUnseen  uint8 = iota
	itemOpen          // its block is open
	itemClosed        // its block is closed
	itemForeign       // no block: an item of a type the internal form has none for
)

// Where a reasoning item's text comes from.
const (
	fromSummary uint8 = 1 + iota
	fromReasoningText
)

// respStreamEvent is what one event says, read whole before anything is
// emitted (its members come in any order). Values needed only now and
// then (a done event's whole text, an item's content) are kept as raw
// JSON, aliasing the event's data, and read when needed.
type respStreamEvent struct {
	typ     []byte
	typBuf  [48]byte
	output  int // output_index; -1: not given
	content int // content_index; -1: not given
	summary int // summary_index; -1: not given
	delta   string
	whole   []byte // text, arguments, input or refusal of a done event
	item    respStreamItemDoc
	hasItem bool
	partTyp string
	partTxt []byte
	resp    respStreamResponse
	// An error event's type, code and message (flat, or nested in
	// "error").
	errType, errCode, errMsg string
}

// respStreamItemDoc is an output item as an event carries it.
type respStreamItemDoc struct {
	id, typ, callID, name, namespace string
	args, input, content, summary    []byte // raw JSON
	encrypted                        []byte
}

// respStreamResponse is the response object of a lifecycle event.
type respStreamResponse struct {
	id, model, status, reason string
	created                   int64
	usage                     Usage
	errCode, errMsg           string
}

func (d *responsesDecoder) Decode(name, data []byte, out []Event) ([]Event, error) {
	if d.stopped || bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		return out, nil // OpenAI never sends [DONE]; some look-alikes do
	}
	ev := &d.ev
	*ev = respStreamEvent{output: -1, content: -1, summary: -1}
	if err := d.read(data); err != nil {
		return out, err
	}
	typ := ev.typ
	if len(typ) == 0 {
		typ = name
	}
	var err error
	switch string(typ) {
	case "response.created", "response.in_progress", "response.queued":
		out = d.begin(out, &ev.resp)
	case "response.completed", "response.incomplete":
		out = d.begin(out, &ev.resp)
		out = d.finish(out, string(typ) == "response.incomplete" || ev.resp.status == "incomplete")
	case "response.failed":
		err = responsesFailure("", ev.resp.errCode, ev.resp.errMsg)
	case "error":
		err = responsesFailure(ev.errType, ev.errCode, ev.errMsg)
	case "response.output_item.added":
		if ev.hasItem {
			out, err = d.added(out, ev.output, &ev.item)
		}
	case "response.output_item.done":
		if ev.hasItem {
			out, err = d.itemDone(out, ev.output, &ev.item)
		}
	case "response.content_part.added", "response.content_part.done":
		out, err = d.part(out, string(typ) == "response.content_part.added")
	case "response.output_text.delta", "response.refusal.delta":
		if string(typ) == "response.refusal.delta" {
			d.refused = true
			out = d.opaqueAt(out, ev.output)
		}
		if ev.content > 0 {
			out = d.opaqueAt(out, ev.output) // a second part: the client has two
		}
		out, err = d.delta(out, ev.output, itemMessage, ev.delta)
	case "response.output_text.done", "response.refusal.done":
		out, err = d.fill(out, ev.output, itemMessage, ev.whole)
	case "response.output_text.annotation.added":
		out = d.opaqueAt(out, ev.output)
	case "response.function_call_arguments.delta":
		out, err = d.delta(out, ev.output, itemFunction, ev.delta)
	case "response.function_call_arguments.done":
		out, err = d.fill(out, ev.output, itemFunction, ev.whole)
	case "response.custom_tool_call_input.delta":
		out, err = d.delta(out, ev.output, itemCustom, ev.delta)
	case "response.custom_tool_call_input.done":
		out, err = d.fill(out, ev.output, itemCustom, ev.whole)
	case "response.reasoning_summary_text.delta":
		out, err = d.reasoning(out, fromSummary, ev.summary, ev.delta)
	case "response.reasoning_text.delta":
		out, err = d.reasoning(out, fromReasoningText, ev.content, ev.delta)
	case "response.reasoning_summary_text.done", "response.reasoning_text.done":
		out, err = d.fill(out, ev.output, itemReasoning, ev.whole)
	}
	// Anything else (in_progress events of hosted tools, the part and
	// summary events that add nothing, types to come) says nothing new.
	return out, err
}

// read reads one event's data into d.ev. A value of an unexpected type
// is passed over (forward compatible); data that is not a JSON object is
// ErrBadEvent.
func (d *responsesDecoder) read(data []byte) error {
	ev, r := &d.ev, &d.r
	r.reset(data)
	if !r.object() {
		return ErrBadEvent
	}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			if r.kind() == '"' {
				ev.typ = append(ev.typBuf[:0], r.strBytes()...)
			} else {
				r.skip()
			}
		case "output_index":
			ev.output = readIndex(r)
		case "content_index":
			ev.content = readIndex(r)
		case "summary_index":
			ev.summary = readIndex(r)
		case "delta":
			ev.delta = looseStr(r)
		case "text", "arguments", "input", "refusal":
			ev.whole = looseRaw(r)
		case "item":
			ev.hasItem = d.readItem(&ev.item)
		case "part":
			d.readPart()
		case "response":
			d.readResponse(&ev.resp)
		case "code":
			ev.errCode = looseCode(r)
		case "message":
			ev.errMsg = looseStr(r)
		case "error":
			d.readError()
		default:
			r.skip()
		}
	}
	if r.done(); r.err != nil {
		return ErrBadEvent
	}
	return nil
}

func (d *responsesDecoder) readItem(doc *respStreamItemDoc) bool {
	r := &d.r
	if r.kind() != '{' {
		r.skip()
		return false
	}
	r.object()
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			doc.id = looseStr(r)
		case "type":
			if r.kind() == '"' {
				doc.typ = r.known("message", "reasoning", "function_call", "custom_tool_call")
			} else {
				r.skip()
			}
		case "call_id":
			doc.callID = looseStr(r)
		case "name":
			doc.name = looseStr(r)
		case "namespace":
			doc.namespace = looseStr(r)
		case "arguments":
			doc.args = looseRaw(r)
		case "input":
			doc.input = looseRaw(r)
		case "content":
			doc.content = looseRaw(r)
		case "summary":
			doc.summary = looseRaw(r)
		case "encrypted_content":
			doc.encrypted = looseRaw(r)
		default:
			r.skip()
		}
	}
	return true
}

func (d *responsesDecoder) readPart() {
	r, ev := &d.r, &d.ev
	if r.kind() != '{' {
		r.skip()
		return
	}
	r.object()
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "type":
			if r.kind() == '"' {
				ev.partTyp = r.known("output_text", "refusal", "reasoning_text")
			} else {
				r.skip()
			}
		case "text", "refusal":
			ev.partTxt = looseRaw(r)
		default:
			r.skip()
		}
	}
}

// readResponse reads what the decoder needs of a response object: not
// its output or its settings, which can be long (a response.completed
// repeats the whole answer and every tool).
func (d *responsesDecoder) readResponse(resp *respStreamResponse) {
	r := &d.r
	if r.kind() != '{' {
		r.skip()
		return
	}
	r.object()
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			resp.id = looseStr(r)
		case "model":
			resp.model = looseStr(r)
		case "created_at":
			resp.created = max(looseInt(r), 0)
		case "status":
			resp.status = looseStr(r)
		case "incomplete_details":
			if r.kind() != '{' {
				r.skip()
				break
			}
			r.object()
			for first := true; ; first = false {
				k, ok := r.member(first)
				if !ok {
					break
				}
				if string(k) == "reason" {
					resp.reason = looseStr(r)
				} else {
					r.skip()
				}
			}
		case "usage":
			if r.kind() == '{' {
				resp.usage = readUsage(r)
			} else {
				r.skip()
			}
		case "error":
			if r.kind() != '{' {
				r.skip()
				break
			}
			r.object()
			for first := true; ; first = false {
				k, ok := r.member(first)
				if !ok {
					break
				}
				switch string(k) {
				case "code":
					resp.errCode = looseCode(r)
				case "message":
					resp.errMsg = looseStr(r)
				default:
					r.skip()
				}
			}
		default:
			r.skip()
		}
	}
}

// readError reads an error event's nested "error" object, which
// openai-node reads: what it says stands over the flat members.
func (d *responsesDecoder) readError() {
	r, ev := &d.r, &d.ev
	if r.kind() != '{' {
		r.skip()
		return
	}
	r.object()
	for first := true; ; first = false {
		k, ok := r.member(first)
		if !ok {
			break
		}
		switch string(k) {
		case "type":
			ev.errType = looseStr(r)
		case "code":
			if c := looseCode(r); c != "" {
				ev.errCode = c
			}
		case "message":
			if m := looseStr(r); m != "" {
				ev.errMsg = m
			}
		default:
			r.skip()
		}
	}
}

// responsesFailure is the error a response.failed or error event reports.
func responsesFailure(typ, code, msg string) *Error {
	if msg == "" {
		msg = "the upstream reported a failed response"
	}
	return &Error{Status: errorStatus(typ, code), Type: cmpOr(typ, "server_error"), Code: code, Message: msg}
}

// begin sends EvStart once: with the response of response.created (or
// in_progress, queued), or bare for a stream that skipped those.
func (d *responsesDecoder) begin(out []Event, resp *respStreamResponse) []Event {
	if d.started {
		return out
	}
	d.started = true
	ev := Event{Kind: EvStart}
	if resp != nil {
		ev.ID, ev.Model, ev.Created = resp.id, resp.model, resp.created
	}
	return append(out, ev)
}

// slot is the state of the item at output index oi. An index not given
// (-1) means the item being read: the open one, else the last one (or
// for a new item, with adding, the next one).
func (d *responsesDecoder) slot(oi int, adding bool) (*respStreamItem, int, error) {
	if oi < 0 {
		switch {
		case adding:
			oi = len(d.items)
		case d.open >= 0:
			oi = d.open
		default:
			oi = max(len(d.items)-1, 0)
		}
	}
	if oi >= maxOutputItems {
		return nil, oi, upstreamAnswerError("output_index out of range")
	}
	for len(d.items) <= oi {
		d.items = append(d.items, respStreamItem{})
	}
	return &d.items[oi], oi, nil
}

// added opens the block of a new output item.
func (d *responsesDecoder) added(out []Event, oi int, doc *respStreamItemDoc) ([]Event, error) {
	it, oi, err := d.slot(oi, true)
	if err != nil || it.state != itemUnseen {
		return out, err // an item announced twice is read once
	}
	out = d.closeOpen(out)
	blk := Block{Kind: Text}
	var kind itemKind
	switch doc.typ {
	case "message":
		kind = itemMessage
	case "reasoning":
		kind, blk.Kind = itemReasoning, Thinking
	case "function_call", "custom_tool_call":
		kind = itemFunction
		if doc.typ == "custom_tool_call" {
			kind = itemCustom
		}
		blk = Block{Kind: ToolCall, ID: doc.callID, Name: flatName(doc.namespace, doc.name), Custom: kind == itemCustom}
		if blk.ID == "" {
			blk.ID = NewID("call_")
		}
		d.calls = true
	default:
		it.state = itemForeign
		return d.opaque(out, it), nil
	}
	out = d.openBlock(out, it, oi, kind, blk, doc.id)
	// What the item arrived with (nothing, from OpenAI itself).
	return d.fillFromItem(out, oi, doc), nil
}

func (d *responsesDecoder) openBlock(out []Event, it *respStreamItem, oi int, kind itemKind, blk Block, id string) []Event {
	out = d.begin(out, nil)
	*it = respStreamItem{state: itemOpen, kind: kind, block: d.blocks, part: -1}
	d.open = oi
	d.blocks++
	return append(out, Event{Kind: EvBlockStart, Index: it.block, Block: blk, Item: id})
}

// closeOpen closes the open block, if any.
func (d *responsesDecoder) closeOpen(out []Event) []Event {
	if d.open < 0 {
		return out
	}
	it := &d.items[d.open]
	d.open = -1
	it.state = itemClosed
	return append(out, Event{Kind: EvBlockStop, Index: it.block})
}

// itemDone closes an item's block, taking from the finished item what
// its deltas did not bring.
func (d *responsesDecoder) itemDone(out []Event, oi int, doc *respStreamItemDoc) ([]Event, error) {
	it, oi, err := d.slot(oi, d.open < 0 && oi < 0)
	if err != nil {
		return out, err
	}
	if it.state == itemUnseen { // done without added: the whole item at once
		if out, err = d.added(out, oi, doc); err != nil {
			return out, err
		}
		it = &d.items[oi]
	}
	if it.state != itemOpen {
		return out, nil
	}
	out = d.fillFromItem(out, oi, doc)
	if it.kind == itemReasoning {
		// Reasoning that Catfish sealed (a Catfish upstream) carries its
		// signature; OpenAI's own encrypted reasoning means nothing here.
		if enc := rawText(&d.r, doc.encrypted); strings.HasPrefix(enc, thinkingPrefix) {
			if text, sig, ok := openThinking(enc[len(thinkingPrefix):]); ok {
				if !it.got {
					out = d.emit(out, it, text)
				}
				if sig != "" {
					out = append(out, Event{Kind: EvSignature, Index: it.block, Text: sig})
				}
			}
		}
	}
	return d.closeOpen(out), nil
}

// fillFromItem adds an item's whole content when no delta brought it.
func (d *responsesDecoder) fillFromItem(out []Event, oi int, doc *respStreamItemDoc) []Event {
	it := &d.items[oi]
	if it.state != itemOpen || it.got {
		return out
	}
	switch it.kind {
	case itemMessage:
		return d.emit(out, it, partsText(&d.r, doc.content, ""))
	case itemReasoning:
		return d.emit(out, it, partsText(&d.r, doc.summary, "\n\n"))
	case itemFunction:
		return d.emit(out, it, rawText(&d.r, doc.args))
	}
	return d.emit(out, it, rawText(&d.r, doc.input))
}

// part reads content_part.added and .done: a message's output text (its
// initial text, or its whole text when no delta brought it), a refusal,
// a reasoning text.
func (d *responsesDecoder) part(out []Event, added bool) ([]Event, error) {
	ev := &d.ev
	kind := itemMessage
	switch ev.partTyp {
	case "output_text":
	case "refusal":
		d.refused = true
		out = d.opaqueAt(out, ev.output)
	case "reasoning_text":
		kind = itemReasoning
	default:
		return d.opaqueAt(out, ev.output), nil // a part the internal form has no place for
	}
	if kind == itemMessage && ev.content > 0 {
		out = d.opaqueAt(out, ev.output)
	}
	if added {
		return d.delta(out, ev.output, kind, rawText(&d.r, ev.partTxt))
	}
	return d.fill(out, ev.output, kind, ev.partTxt)
}

// delta adds a piece of an item's content. want is the kind of item the
// event is about; an event about another kind (a text delta on a call)
// is passed over, as SDKs pass it over. A message or reasoning item that
// was never announced is opened; a piece for an item already closed
// cannot be placed: the client has it, the internal form cannot say
// where (EvOpaque).
func (d *responsesDecoder) delta(out []Event, oi int, want itemKind, text string) ([]Event, error) {
	it, oi, err := d.slot(oi, false)
	if err != nil {
		return out, err
	}
	switch it.state {
	case itemUnseen:
		if want != itemMessage && want != itemReasoning {
			return out, nil // a call without its name cannot be placed
		}
		out = d.closeOpen(out)
		blk := Block{Kind: Text}
		if want == itemReasoning {
			blk.Kind = Thinking
		}
		out = d.openBlock(out, it, oi, want, blk, "")
	case itemClosed:
		if it.kind == want && text != "" {
			return d.opaque(out, it), nil
		}
		return out, nil
	case itemForeign:
		return out, nil
	}
	if it.kind != want {
		return out, nil
	}
	return d.emit(out, it, text), nil
}

// emit adds text to the open item it.
func (d *responsesDecoder) emit(out []Event, it *respStreamItem, text string) []Event {
	if text == "" || it.state != itemOpen {
		return out
	}
	it.got = true
	return append(out, Event{Kind: EvDelta, Index: it.block, Text: text})
}

// fill adds a done event's whole text (raw JSON) to an open item of
// kind want that no delta has brought anything to.
func (d *responsesDecoder) fill(out []Event, oi int, want itemKind, raw []byte) ([]Event, error) {
	it, _, err := d.slot(oi, false)
	if err != nil || it.state != itemOpen || it.kind != want || it.got {
		return out, err
	}
	return d.emit(out, it, rawText(&d.r, raw)), nil
}

// reasoning adds a piece of a reasoning item's summary or reasoning
// text (from, the first seen wins: an upstream that sent both would
// say the same twice); summary parts are joined by a blank line, as the
// request decoder joins them.
func (d *responsesDecoder) reasoning(out []Event, from uint8, part int, text string) ([]Event, error) {
	oi := d.ev.output
	out, err := d.delta(out, oi, itemReasoning, "") // opens an item never announced
	if err != nil || text == "" {
		return out, err
	}
	it, oi, _ := d.slot(oi, false)
	if it.state != itemOpen || it.kind != itemReasoning {
		return d.delta(out, oi, itemReasoning, text)
	}
	if it.source == 0 {
		it.source = from
	}
	if it.source != from {
		return out, nil
	}
	if it.got && part != it.part {
		out = d.emit(out, it, "\n\n")
	}
	it.part = part
	return d.emit(out, it, text), nil
}

// opaqueAt says the item at oi carried something the internal form
// cannot (once per item).
func (d *responsesDecoder) opaqueAt(out []Event, oi int) []Event {
	it, _, err := d.slot(oi, false)
	if err != nil {
		it = nil
	}
	return d.opaque(out, it)
}

func (d *responsesDecoder) opaque(out []Event, it *respStreamItem) []Event {
	if it != nil {
		if it.opaque {
			return out
		}
		it.opaque = true
	}
	out = d.begin(out, nil)
	return append(out, Event{Kind: EvOpaque})
}

// finish ends the answer: response.completed, or response.incomplete
// (status incomplete) with its reason.
func (d *responsesDecoder) finish(out []Event, incomplete bool) []Event {
	out = d.closeOpen(out)
	d.stopped = true
	stop := StopEnd
	switch {
	case incomplete && d.ev.resp.reason == "content_filter":
		stop = StopRefusal
	case incomplete:
		stop = StopMaxTokens
	case d.calls:
		stop = StopToolUse
	case d.refused:
		stop = StopRefusal
	}
	return append(out, Event{Kind: EvStop, Stop: stop, Usage: d.ev.resp.usage})
}

// End: a Responses stream ends with response.completed (or incomplete,
// or failed); one that stops short of it is incomplete, as Codex holds.
func (d *responsesDecoder) End(out []Event) ([]Event, error) {
	if d.stopped {
		return out, nil
	}
	return out, ErrIncomplete
}

// readIndex reads an index; anything but a number reads as -1 (not
// given).
func readIndex(r *jsonReader) int {
	n := looseInt(r)
	if n < 0 {
		return -1
	}
	return int(min(n, maxOutputItems))
}

// looseStr reads a string; another kind of value is passed over as "".
func looseStr(r *jsonReader) string {
	if r.kind() != '"' {
		r.skip()
		return ""
	}
	return r.str()
}

// looseInt reads a number, whole or not, as an integer; another kind of
// value, or a number out of range, reads as -1.
func looseInt(r *jsonReader) int64 {
	if r.kind() != '0' {
		r.skip()
		return -1
	}
	b := r.number()
	if r.err != nil {
		return -1
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > 1<<53 {
		return -1
	}
	return int64(f)
}

// looseCode reads an error code: a string, or a number as its digits.
func looseCode(r *jsonReader) string {
	switch r.kind() {
	case '"':
		return r.str()
	case '0':
		return string(r.number())
	}
	r.skip()
	return ""
}

// looseRaw reads a value as raw JSON, nil for null.
func looseRaw(r *jsonReader) []byte {
	if r.null() {
		return nil
	}
	return r.raw()
}

// rawText is the text of a raw JSON value: a string's contents, or any
// other value as written (a call's arguments sent as an object).
func rawText(r *jsonReader, raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] != '"' {
		return string(raw)
	}
	r.reset(raw)
	s := r.str()
	if r.err != nil {
		return ""
	}
	return s
}

// partsText joins the texts of an item's content or summary parts (raw
// JSON), sep between them.
func partsText(r *jsonReader, raw []byte, sep string) string {
	if len(raw) == 0 || raw[0] != '[' {
		return ""
	}
	r.reset(raw)
	r.array()
	var b strings.Builder
	for first := true; r.elem(first); first = false {
		if r.kind() != '{' {
			r.skip()
			continue
		}
		r.object()
		text := ""
		for first := true; ; first = false {
			k, ok := r.member(first)
			if !ok {
				break
			}
			switch string(k) {
			case "text", "refusal":
				if s := looseStr(r); s != "" {
					text = s
				}
			default:
				r.skip()
			}
		}
		if text != "" {
			if b.Len() > 0 {
				b.WriteString(sep)
			}
			b.WriteString(text)
		}
	}
	if r.err != nil {
		return ""
	}
	return b.String()
}
