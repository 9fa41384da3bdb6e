package dialect

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Random Responses requests, shaped like the real thing but with every
// member maybe missing, given twice, spelled in another case, or of the
// wrong type: the jsonReader decoder must read each exactly as the
// encoding/json one did (responses_oracle_test.go). Member order follows
// Go's map order, so each run tries other bodies; a failure prints its
// body.

type gen struct{ r *rand.Rand }

func (g gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g gen) scalar() string {
	return g.pick(`null`, `true`, `false`, `0`, `1`, `-1`, `1.5`, `1e3`, `1e400`, `99999999999999999999`, `""`, `"x"`, `"auto"`, `"none"`, `"required"`,
		`"function"`, `"custom"`, `"namespace"`, `"message"`, `"user"`, `"assistant"`, `"developer"`, `"system"`, `"input_text"`, `"summary_text"`,
		`"f"`, `"c1"`, `"ns"`, `"a\nb"`, `"\u00e9"`, `[]`, `{}`, `"catfish.thinking.v1.eyJ0IjoiYSIsInMiOiJiIn0"`, `"catfish.redacted.v1.x"`)
}

func (g gen) key(k string) string {
	switch g.r.IntN(12) {
	case 0:
		return strings.ToUpper(k)
	case 1:
		return strings.ToUpper(k[:1]) + k[1:]
	case 2:
		return strings.Replace(k, "k", "\u212a", 1)
	case 3:
		return strings.Replace(k, "s", "\u017f", 1)
	case 4:
		return g.pick("x", "zz", "id", "status")
	}
	return k
}

// obj builds an object from members, each member with probability, some twice.
func (g gen) obj(depth int, members map[string]func(int) string) string {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for k, f := range members {
		if g.r.IntN(3) == 0 {
			continue
		}
		times := 1
		if g.r.IntN(10) == 0 {
			times = 2
		}
		for range times {
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			b.WriteString(`"` + g.key(k) + `":`)
			if g.odd(40) || depth > 4 {
				b.WriteString(g.scalar())
			} else {
				b.WriteString(f(depth + 1))
			}
		}
	}
	b.WriteByte('}')
	return b.String()
}

func (g gen) arr(depth int, elem func(int) string) string {
	n := g.r.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		if g.odd(40) {
			parts[i] = g.scalar()
		} else {
			parts[i] = elem(depth + 1)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// odd is true once in n: how often a member is of the wrong type, so
// that about as many requests decode as fail.
func (g gen) odd(n int) bool { return g.r.IntN(n) == 0 }

func (g gen) str(int) string {
	if g.odd(40) {
		return g.scalar()
	}
	return g.pick(`"x"`, `""`, `"auto"`, `"f"`, `"c1"`, `"ns"`, `"a\nb"`, `"\u00e9"`, `"function"`, `"custom"`, `"namespace"`,
		`"message"`, `"user"`, `"assistant"`, `"developer"`, `"input_text"`, `"output_text"`, `"summary_text"`,
		`"function_call"`, `"function_call_output"`, `"reasoning"`, `"json_schema"`, `"high"`)
}

func (g gen) num(int) string {
	if g.odd(40) {
		return g.scalar()
	}
	return g.pick(`0`, `1`, `12`, `0.5`, `1e3`, `null`)
}

func (g gen) boolean(int) string {
	if g.odd(40) {
		return g.scalar()
	}
	return g.pick(`true`, `false`, `null`)
}

// absent is a refused member's usual value.
func (g gen) absent(int) string {
	if g.odd(40) {
		return g.scalar()
	}
	return `null`
}

func (g gen) tool(d int) string {
	return g.obj(d, map[string]func(int) string{"type": g.str, "name": g.str, "description": g.str,
		"parameters": func(int) string { return g.pick(`{"type":"object"}`, `{ "a" : 1 }`, `null`, `5`) },
		"format":     func(int) string { return g.pick(`{"type":"text"}`, `null`) },
		"tools":      func(d int) string { return g.arr(d, g.tool) }})
}

func (g gen) part(d int) string {
	return g.obj(d, map[string]func(int) string{"type": g.str, "text": g.str, "refusal": g.str, "image_url": g.str, "file_id": g.str})
}

func (g gen) content(d int) string {
	if g.r.IntN(2) == 0 {
		return g.str(d)
	}
	return g.arr(d, g.part)
}

func (g gen) item(d int) string {
	return g.obj(d, map[string]func(int) string{"type": g.str, "role": g.str, "content": g.content, "output": g.content,
		"call_id": g.str, "name": g.str, "namespace": g.str, "arguments": g.str, "input": g.str,
		"summary":           func(d int) string { return g.arr(d, g.part) },
		"encrypted_content": g.str, "tools": func(d int) string { return g.arr(d, g.tool) }})
}

func (g gen) request() string {
	return g.obj(0, map[string]func(int) string{
		"model": g.str, "input": func(d int) string { return g.arr(d, g.item) }, "instructions": g.str,
		"tools": func(d int) string { return g.arr(d, g.tool) },
		"tool_choice": func(d int) string {
			return g.obj(d, map[string]func(int) string{"type": g.str, "name": g.str, "namespace": g.str, "mode": g.str,
				"tools": func(d int) string { return g.arr(d, g.tool) }})
		},
		"parallel_tool_calls": g.boolean, "max_output_tokens": g.num, "temperature": g.num, "top_p": g.num, "stream": g.boolean,
		"reasoning": func(d int) string {
			return g.obj(d, map[string]func(int) string{"effort": g.str, "summary": g.str, "generate_summary": g.str})
		},
		"text": func(d int) string {
			return g.obj(d, map[string]func(int) string{"format": func(d int) string {
				return g.obj(d, map[string]func(int) string{"type": g.str, "name": g.str, "strict": g.boolean, "description": g.str,
					"schema": func(int) string { return g.pick(`{"type":"object"}`, `null`, `"s"`) }})
			}})
		},
		"previous_response_id": g.absent, "conversation": g.absent, "background": g.boolean, "prompt": g.absent, "user": g.str, "safety_identifier": g.str,
	})
}

func TestResponsesRequestRandomSameAsOracle(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	ok := 0
	for range n {
		body := g.request()
		if _, err := ScanObject([]byte(body)); err != nil {
			t.Fatal(body, err)
		}
		sameAsOracle(t, []byte(body))
		if _, err := decodeResponsesRequest([]byte(body)); err == nil {
			ok++
		}
	}
	// Both kinds must be common, or the generator tests only one path.
	t.Logf("%d of %d decoded", ok, n)
	if ok < n/50 || ok > n-n/50 {
		t.Fatalf("%d of %d random requests decoded: the generator is lopsided", ok, n)
	}
}
