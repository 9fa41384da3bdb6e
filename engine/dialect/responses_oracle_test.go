package dialect

// The Responses request decoder as it was before the jsonReader rewrite
// (encoding/json), kept in a test as the oracle the rewrite is checked
// against.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
)

type oldRespRequestDoc struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       json.RawMessage   `json:"instructions"`
	Tools              []oldRespToolDoc  `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	Stream             *bool             `json:"stream"`
	Reasoning          *oldRespReasoning `json:"reasoning"`
	Text               *oldRespText      `json:"text"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Conversation       json.RawMessage   `json:"conversation"`
	Background         *bool             `json:"background"`
	Prompt             json.RawMessage   `json:"prompt"`
	User               *string           `json:"user"`
	SafetyIdentifier   *string           `json:"safety_identifier"`
	// Advisory fields are not read, so they never fail a request: store,
	// include, prompt_cache_key, client_metadata, metadata, truncation,
	// service_tier, text.verbosity, stream_options, and any new ones.
}

type oldRespReasoning struct {
	Effort          *string `json:"effort"`
	Summary         *string `json:"summary"`
	GenerateSummary *string `json:"generate_summary"`
}

type oldRespText struct {
	Format *struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
		Description *string         `json:"description"`
	} `json:"format"`
}

type oldRespItemDoc struct {
	Type             string               `json:"type"`
	Role             string               `json:"role"`
	Content          oldRespContent       `json:"content"`
	CallID           string               `json:"call_id"`
	Name             string               `json:"name"`
	Namespace        string               `json:"namespace"`
	Arguments        string               `json:"arguments"`
	Input            string               `json:"input"`
	Output           oldRespContent       `json:"output"`
	Summary          []oldRespSummaryPart `json:"summary"`
	EncryptedContent *string              `json:"encrypted_content"`
	Tools            []oldRespToolDoc     `json:"tools"`
}

// oldRespContent is a message's content or a tool's output: a string or an
// array of parts. Decoding it in place, rather than keeping it raw for
// later, spares encoding/json a pass over the conversation's text at
// each level.
type oldRespContent struct {
	Str     string
	Parts   []oldRespPartDoc
	IsParts bool
}

var oldRespContentType = reflect.TypeFor[oldRespContent]()

func (c *oldRespContent) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &c.Str)
	case b[0] == '[':
		c.IsParts = true
		return json.Unmarshal(b, &c.Parts)
	}
	value := "object"
	switch b[0] {
	case 't', 'f':
		value = "bool"
	case '{':
	default:
		value = "number"
	}
	return &json.UnmarshalTypeError{Value: value, Type: oldRespContentType}
}

type oldRespSummaryPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type oldRespPartDoc struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Refusal  *string `json:"refusal"`
	ImageURL *string `json:"image_url"`
	FileID   *string `json:"file_id"`
}

type oldRespToolDoc struct {
	Type        string           `json:"type"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Parameters  json.RawMessage  `json:"parameters"`
	Format      json.RawMessage  `json:"format"`
	Tools       []oldRespToolDoc `json:"tools"` // a namespace's
}

// oldHostedItems are input items about hosted tools, or server state: they
// come from an earlier turn answered by OpenAI itself, and no other
// upstream can read them.
var oldHostedItems = map[string]bool{
	"web_search_call": true, "file_search_call": true, "computer_call": true,
	"computer_call_output": true, "code_interpreter_call": true, "image_generation_call": true,
	"local_shell_call": true, "local_shell_call_output": true, "shell_call": true,
	"shell_call_output": true, "apply_patch_call": true, "apply_patch_call_output": true,
	"mcp_list_tools": true, "mcp_approval_request": true, "mcp_approval_response": true,
	"mcp_call": true, "tool_search_call": true, "tool_search_output": true,
	"compaction": true, "compaction_summary": true,
}

// oldRespDecoder holds what decoding one request needs.
type oldRespDecoder struct {
	r       *Request
	dropped map[string]bool
	nss     map[string]bool   // flattened namespaces
	toolAt  map[string]string // tool name → where it was declared
	toolNS  map[string]string // tool name → the namespace it was declared in
	calls   map[string]bool   // call ids seen so far
	leading bool              // still in the leading system messages
}

func oldDecodeResponsesRequest(body []byte) (*Request, error) {
	var doc oldRespRequestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, oldRequestError(body, err)
	}
	d := &oldRespDecoder{r: &Request{Model: doc.Model}, dropped: map[string]bool{}, nss: map[string]bool{},
		toolAt: map[string]string{}, toolNS: map[string]string{}, calls: map[string]bool{}, leading: true}
	r := d.r
	if err := oldRefuseStateful(&doc); err != nil {
		return nil, err
	}
	if len(doc.Instructions) > 0 && string(doc.Instructions) != "null" {
		var s string
		if err := json.Unmarshal(doc.Instructions, &s); err != nil {
			return nil, fieldError("instructions", "must be a string")
		}
		if s != "" {
			r.System = append(r.System, Block{Kind: Text, Text: s})
		}
	}
	for i := range doc.Tools {
		if err := d.tool(&doc.Tools[i], "tools["+strconv.Itoa(i)+"]", ""); err != nil {
			return nil, err
		}
	}
	if err := d.input(doc.Input); err != nil {
		return nil, err
	}
	if err := d.checkFlatNames(); err != nil {
		return nil, err
	}
	if err := d.toolChoice(doc.ToolChoice); err != nil {
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

// oldRefuseStateful refuses what needs state kept on OpenAI's servers.
func oldRefuseStateful(doc *oldRespRequestDoc) error {
	if doc.PreviousResponseID != nil && *doc.PreviousResponseID != "" {
		return fieldError("previous_response_id", "responses are not stored on this route; send the whole conversation in input instead")
	}
	if len(doc.Conversation) > 0 && string(doc.Conversation) != "null" {
		return fieldError("conversation", "conversations are not stored on this route; send the whole conversation in input instead")
	}
	if doc.Background != nil && *doc.Background {
		return fieldError("background", "background responses are not supported on this route")
	}
	if len(doc.Prompt) > 0 && string(doc.Prompt) != "null" {
		return fieldError("prompt", "stored prompt templates are not available on this route; send the prompt in instructions or input")
	}
	return nil
}

// oldJsonError is the 400 for a body or item that does not decode: it names
// the field encoding/json blames, under prefix.
func oldJsonError(prefix string, err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		param := prefix
		if te.Field != "" {
			if param != "" {
				param += "."
			}
			param += te.Field
		}
		if param == "" {
			param = "body"
		}
		kind := te.Type.Kind().String()
		if te.Type == oldRespContentType {
			kind = "content"
		}
		return fieldError(param, "expected %s, got JSON %s", oldGoTypeName(kind), te.Value)
	}
	if prefix == "" {
		prefix = "body"
	}
	return fieldError(prefix, "not valid JSON: %v", err)
}

func oldGoTypeName(kind string) string {
	switch kind {
	case "content":
		return "a string or an array of content parts"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr", "interface":
		return "a value"
	}
	return "a number"
}

func (d *oldRespDecoder) drop(what string) {
	if !d.dropped[what] {
		d.dropped[what] = true
		d.r.Dropped = append(d.r.Dropped, what)
	}
}

// tool reads one tool (at path); ns is the namespace it is declared in.
func (d *oldRespDecoder) tool(t *oldRespToolDoc, path, ns string) error {
	switch t.Type {
	case "function", "custom":
		if t.Name == "" {
			return fieldError(path+".name", "a %s tool needs a name", t.Type)
		}
		name := flatName(ns, t.Name)
		if prev, dup := d.toolAt[name]; dup {
			return fieldError(path+".name", "tool %q is declared twice (also at %s)", name, prev)
		}
		d.toolAt[name] = path
		if ns != defaultNamespace {
			d.toolNS[name] = ns
		}
		tool := Tool{Name: name, Description: t.Description}
		if ns != defaultNamespace {
			tool.Namespace = ns
		}
		if t.Type == "custom" {
			tool.Custom = true
			if len(t.Format) > 0 && string(t.Format) != "null" {
				tool.Format = oldCompactJSON(t.Format)
			}
		} else {
			tool.Schema = oldCompactJSON(t.Parameters)
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
			d.nss[t.Name] = true
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
func (d *oldRespDecoder) checkFlatNames() error {
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

// input reads the input: a string (one user message) or items.
func (d *oldRespDecoder) input(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return oldJsonError("input", err)
		}
		d.add(User, Block{Kind: Text, Text: s})
		return nil
	}
	if raw[0] != '[' {
		return fieldError("input", "must be a string or an array of items")
	}
	var items []oldRespItemDoc
	if err := json.Unmarshal(raw, &items); err != nil {
		return oldInputError(raw, err)
	}
	for i := range items {
		if err := d.item(&items[i], "input["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	return nil
}

// oldRequestError names the field of a body that did not decode: the tools
// are decoded again one by one, as encoding/json's errors give no array
// index.
func oldRequestError(body []byte, err error) error {
	var loose struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if json.Unmarshal(body, &loose) == nil {
		for i, raw := range loose.Tools {
			var t oldRespToolDoc
			if err := json.Unmarshal(raw, &t); err != nil {
				return oldJsonError("tools["+strconv.Itoa(i)+"]", err)
			}
		}
	}
	return oldJsonError("", err)
}

// oldInputError names the item that did not decode, as oldRequestError does.
func oldInputError(raw json.RawMessage, err error) error {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return oldJsonError("input", err)
	}
	for i, item := range items {
		var it oldRespItemDoc
		if err := json.Unmarshal(item, &it); err != nil {
			return oldJsonError("input["+strconv.Itoa(i)+"]", err)
		}
	}
	return oldJsonError("input", err)
}

func (d *oldRespDecoder) item(it *oldRespItemDoc, path string) error {
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
		d.calls[it.CallID] = true
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
		content, err := oldContentBlocks(&it.Output, path+".output", true)
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
		if !oldHostedItems[typ] {
			return fieldError(path+".type", "unknown input item type %q", typ)
		}
		d.drop("input item " + typ)
	}
	return nil
}

func (d *oldRespDecoder) message(it *oldRespItemDoc, path string) error {
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
	blocks, err := oldContentBlocks(&it.Content, path+".content", role == User)
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

// oldContentBlocks reads a message's content or a tool's output. Empty
// texts are left out: Anthropic refuses empty text blocks, and an empty
// result or message says the same without one. Images come only from
// users and tools.
func oldContentBlocks(c *oldRespContent, path string, images bool) ([]Block, error) {
	if !c.IsParts {
		if c.Str == "" {
			return nil, nil
		}
		return []Block{{Kind: Text, Text: c.Str}}, nil
	}
	blocks := make([]Block, 0, len(c.Parts))
	for j := range c.Parts {
		ppath := path + "[" + strconv.Itoa(j) + "]"
		b, err := oldContentPart(&c.Parts[j], ppath)
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

// oldContentPart reads one content part of a message or a tool's output.
func oldContentPart(p *oldRespPartDoc, path string) (Block, error) {
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
func (d *oldRespDecoder) reasoning(it *oldRespItemDoc, path string) error {
	if it.EncryptedContent != nil {
		enc := *it.EncryptedContent
		if data, ok := strings.CutPrefix(enc, redactedPrefix); ok {
			d.add(Assistant, Block{Kind: RedactedThinking, Data: data})
			return nil
		}
		if rest, ok := strings.CutPrefix(enc, thinkingPrefix); ok {
			if text, sig, ok := oldOpenThinking(rest); ok {
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
func oldOpenThinking(s string) (text, sig string, ok bool) {
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
func (d *oldRespDecoder) add(role Role, blocks ...Block) {
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

func (d *oldRespDecoder) toolChoice(raw json.RawMessage) error {
	c := &d.r.Choice
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	c.Set = true
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		switch s {
		case "auto":
			c.Mode = ChoiceAuto
		case "none":
			c.Mode = ChoiceNone
		case "required":
			c.Mode = ChoiceAny
		default:
			return fieldError("tool_choice", "unknown value %q (auto, none, required, or an object)", s)
		}
		return nil
	}
	var doc struct {
		Type      string `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Mode      string `json:"mode"`
		Tools     []struct {
			Type      string `json:"type"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return oldJsonError("tool_choice", err)
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
func (d *oldRespDecoder) choiceName(ns, name string) (string, bool) {
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

func (d *oldRespDecoder) textFormat(t *oldRespText) error {
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
		b = append(b, oldCompactJSON(f.Schema)...)
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

func oldCompactJSON(raw []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
