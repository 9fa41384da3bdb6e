package dialect

import "encoding/json"

// The internal form: where the client and the channel speak different
// dialects, the request is decoded into a Request, encoded for the
// channel, and the answer comes back the same way (Response for a whole
// answer, a sequence of Events for a stream). n dialects need n codecs,
// not n² translators.
//
// The form keeps what a conversation means, not how a dialect spells it:
// system text, turns of content blocks, tools, and the sampling and
// reasoning settings every dialect shares. What only one vendor's servers
// can honour is dropped on a translated route (and named in the log);
// what would change the answer's meaning if dropped is refused with a
// 400 naming the field.

// Role is who speaks a turn.
type Role uint8

const (
	User Role = iota
	Assistant
	// System is a system or developer instruction between turns (Claude
	// Code's role:"system" messages, Codex's developer messages after the
	// first turn). The leading ones become Request.System.
	System
)

func (r Role) String() string {
	switch r {
	case Assistant:
		return "assistant"
	case System:
		return "system"
	}
	return "user"
}

// Kind is a content block's kind.
type Kind uint8

const (
	Text Kind = iota
	Image
	ToolCall   // the assistant calls a tool: ID, Name, Input
	ToolResult // the client's answer to a call: ID, Content, IsError
	Thinking   // reasoning text: Text, Signature (Anthropic's, when it came with one)
	// RedactedThinking is Anthropic's encrypted reasoning (Data); only an
	// Anthropic channel can read it.
	RedactedThinking
)

func (k Kind) String() string {
	switch k {
	case Image:
		return "image"
	case ToolCall:
		return "tool_call"
	case ToolResult:
		return "tool_result"
	case Thinking:
		return "thinking"
	case RedactedThinking:
		return "redacted_thinking"
	}
	return "text"
}

// Block is one piece of a turn. Which fields mean something depends on
// Kind; the others are empty.
type Block struct {
	Kind Kind
	// Text: the text of a Text block, the reasoning of a Thinking block.
	Text string
	// Image: a URL (http(s) or data:), or MediaType and base64 Data.
	URL       string
	MediaType string
	Data      string // also RedactedThinking's opaque data
	// ToolCall and ToolResult: the call's id.
	ID string
	// ToolCall: the tool and its input, a JSON object as text; for a
	// Custom tool (Responses' free-form tools) the raw input text.
	Name   string
	Input  string
	Custom bool
	// ToolResult: what the tool gave back (Text and Image blocks).
	Content []Block
	IsError bool
	// Thinking: the signature that vouches for Text (Anthropic); empty
	// when the reasoning came from elsewhere.
	Signature string
}

// Message is one turn.
type Message struct {
	Role    Role
	Content []Block
}

// Tool is a tool the model may call.
type Tool struct {
	Name        string
	Description string
	// Schema is the JSON Schema of the input object. For a Custom tool it
	// is empty: the input is free text.
	Schema json.RawMessage
	Custom bool
	// Format is a Custom tool's input format (Responses), kept so the
	// model can be told about it.
	Format json.RawMessage
	// Namespace is the Responses namespace the tool was declared in; its
	// Name is then the flat NAMESPACE__TOOL the upstream model sees, and
	// a call to it goes back to the client split again.
	Namespace string
}

// ChoiceMode says whether and how the model must call a tool.
type ChoiceMode uint8

const (
	ChoiceAuto ChoiceMode = iota // the model decides (also: not given)
	ChoiceAny                    // some tool must be called ("required")
	ChoiceTool                   // the tool named in ToolChoice.Name
	ChoiceNone                   // no tool may be called
)

// ToolChoice is the request's tool_choice.
type ToolChoice struct {
	Mode ChoiceMode
	Name string
	Set  bool // given by the client (else the upstream's default)
}

// Request is one conversation request in the internal form.
type Request struct {
	Model string
	// System is the leading system text, in order.
	System   []Block
	Messages []Message
	Tools    []Tool
	Choice   ToolChoice
	// Parallel is parallel_tool_calls; nil: the upstream's default.
	Parallel *bool
	// MaxTokens bounds the answer; 0: not given.
	MaxTokens   int
	Temperature *float64
	TopP        *float64
	Stop        []string
	Stream      bool
	// IncludeUsage: a chat client asked for the usage chunk.
	IncludeUsage bool
	Reasoning    Reasoning
	// Format is a JSON Schema answer format, as chat's
	// response_format.json_schema ({name, schema, strict, description}).
	Format json.RawMessage
	// JSONObject asks for any JSON object (response_format json_object).
	JSONObject bool
	// User identifies the end user to the upstream, when given.
	User string
	// Dropped names what the decoder left out because no other dialect
	// can carry it (vendor-hosted tools, say), for the log line.
	Dropped []string
}

// Reasoning is how much the model should think before answering.
type Reasoning struct {
	// Effort is "minimal", "low", "medium", "high" (or "xhigh");
	// "": not asked for.
	Effort string
	// Budget is a thinking budget in tokens (Anthropic); 0: not given.
	Budget int
	// Off: the client turned thinking off explicitly.
	Off bool
	// Summary: the client wants reasoning text shown (Responses'
	// reasoning.summary, Anthropic's thinking display).
	Summary bool
}

// StopReason is why an answer ended.
type StopReason uint8

const (
	StopEnd       StopReason = iota // the model finished its turn
	StopMaxTokens                   // cut at the token limit
	StopToolUse                     // the model called tools
	StopSequence                    // a stop sequence matched
	StopRefusal                     // the content filter or a refusal ended it
	StopPause                       // Anthropic's pause_turn (a long server-side turn)
)

// Response is one whole answer in the internal form.
type Response struct {
	ID      string
	Model   string
	Created int64 // unix seconds; 0: unknown
	Content []Block
	Stop    StopReason
	// StopSequence is the sequence that matched, with StopSequence.
	StopSequence string
	Usage        Usage
}

// EventKind is what a stream event says.
type EventKind uint8

const (
	// EvStart: the answer begins (ID, Model, Created; Usage may hold the
	// input tokens already).
	EvStart EventKind = iota
	// EvBlockStart: block Index opens: Block.Kind, and for a tool call
	// Block.ID and Block.Name, for redacted thinking Block.Data.
	EvBlockStart
	// EvDelta: more of block Index: Text is text, reasoning text, or a
	// piece of a tool call's input.
	EvDelta
	// EvSignature: block Index (thinking) is vouched for by Text.
	EvSignature
	// EvBlockStop: block Index is complete.
	EvBlockStop
	// EvUsage: usage so far (Usage); later reports replace earlier ones.
	EvUsage
	// EvStop: the answer ends: Stop, StopSequence, and the final Usage.
	EvStop
	// EvOpaque: the upstream sent something this form cannot carry (a
	// hosted tool's output item, a refusal part, an annotation). Encoders
	// write nothing for it; a stream that passed through with it is not
	// resumed by an encoder (continuation, SPEC 11), which could not
	// write it again.
	EvOpaque
)

// Event is one step of a streamed answer in the internal form. Blocks
// open, grow and close one at a time, in Index order; a decoder whose
// upstream interleaves them (parallel tool calls in chat) serialises them.
type Event struct {
	Kind  EventKind
	Index int
	Block Block  // EvBlockStart
	Text  string // EvDelta, EvSignature

	ID      string // EvStart
	Model   string // EvStart
	Created int64  // EvStart
	// KeepID (EvStart): the client already has this id from a stream
	// that passed through; an encoder resuming that stream keeps it as
	// it is instead of giving it its dialect's prefix.
	KeepID bool
	// Item (EvBlockStart) is the id of the output item the block came in,
	// in a Responses stream. A Responses encoder resuming a stream that
	// passed through (KeepID) gives the block's item this id, so the
	// text goes on in the item the client has open.
	Item string

	Stop         StopReason // EvStop
	StopSequence string     // EvStop
	Usage        Usage      // EvStart, EvUsage, EvStop
}
