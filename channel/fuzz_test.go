package channel

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzAdminPatch feeds arbitrary admin bodies to the decoders behind
// POST and PUT /admin/config. They never panic, reject only with a
// *FieldError naming a field, and every channel they accept is valid and
// round-trips: its own JSON (as GET and export show it) decodes to a
// patch that builds the same channel again and changes nothing when
// applied to it.
func FuzzAdminPatch(f *testing.F) {
	seeds := []string{
		`{"priority":1,"url":"https://api.openai.com/v1","api_key":"sk-abcdefghijklmnop1234"}`,
		`{"priority":-3,"url":"http://127.0.0.1:8000/v1/","api_key":" sk-x ","model":"  gpt-4o  ","scheme_name":"fast","name":" main ","enabled":false}`,
		`{"priority":0,"url":"https://h/v1","api_key":"k","model":null,"consecutive_failure_threshold":0,"disable_duration_seconds":2592000,"timeout_seconds":1,"max_retries":10}`,
		`{"priority":1,"url":"https://h/v1","api_key":"sk-…abcd","consecutive_failure_threshold":null,"timeout_seconds":null,"max_retries":null,"name":null}`,
		`{"id":"x","breaker":{"state":"open"},"request_overrides":{},"priority":2,"url":"https://h","api_key":"k","scheme_name":"s"}`,
		`{"priority":1.5,"url":"https://h","api_key":"k"}`,
		`{"priority":"1","url":"https://h","api_key":"k"}`,
		`{"priorty":1}`,
		`{"url":"ftp://h","priority":1,"api_key":"k"}`,
		`{"url":"https://u:p@h/v1?x=1#f","priority":1,"api_key":"k"}`,
		`{"priority":1,"url":"https://h","api_key":"k\u0000"}`,
		`{"priority":1,"url":"https://h","api_key":"k","scheme_name":""}`,
		`{"priority":99999999999999999999,"url":"https://h","api_key":"k"}`,
		`{"enabled":null}`,
		`{}`,
		`[]`,
		`null`,
		`{"priority":1,"priority":2,"url":"https://h","api_key":"k"}`,
		"{\"priority\":1,\"url\":\"https://h\",\"api_key\":\"k\",\"name\":\"\xff\"}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"":10}`)) // an empty key is named as it is
	base := Settings{ID: "c1", Priority: 1, URL: "https://a.example/v1", APIKey: "sk-base-0000000000001234",
		Name: "main", Enabled: true, Scheme: "s", MaxRetries: new(2), Type: TypeOpenAI}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePatch(data)
		if err != nil {
			checkFieldError(t, "DecodePatch", err)
			var fe *FieldError
			errors.As(err, &fe)
			var doc map[string]json.RawMessage
			if json.Unmarshal(data, &doc) == nil && doc != nil {
				if _, ok := doc[fe.Field]; !ok {
					t.Fatalf("the error names %q, not a field of the input", fe.Field)
				}
			} else if fe.Field != "body" {
				t.Fatalf("a body that is not an object: the error names %q, want body", fe.Field)
			}
			return
		}
		if s, err := NewFromPatch("c9", p); err != nil {
			checkFieldError(t, "NewFromPatch", err)
		} else {
			roundTrip(t, s)
		}
		s, err := ApplyPatch(base.Clone(), p)
		if err != nil {
			checkFieldError(t, "ApplyPatch", err)
			return
		}
		if s.ID != base.ID {
			t.Fatalf("a patch changed the id: %q", s.ID)
		}
		roundTrip(t, s)
		again, err := ApplyPatch(s, p)
		if err != nil || dump(again) != dump(s) {
			t.Fatalf("applying a patch twice: %v\n once  %s\n twice %s", err, dump(s), dump(again))
		}
	})
}

func checkFieldError(t *testing.T, what string, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Msg == "" {
		t.Fatalf("%s: %v (%T) is not a FieldError naming a field", what, err, err)
	}
}

// roundTrip checks a channel that validated: its JSON decodes and builds
// the same channel, and applied to it changes nothing.
func roundTrip(t *testing.T, s Settings) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatalf("an accepted channel does not validate: %v\n%s", err, dump(s))
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodePatch(b)
	if err != nil {
		t.Fatalf("its own JSON is refused: %v\n%s", err, b)
	}
	rebuilt, err := NewFromPatch(s.ID, p)
	if err != nil {
		t.Fatalf("its own JSON does not build a channel: %v\n%s", err, b)
	}
	if dump(rebuilt) != dump(s) {
		t.Fatalf("round trip changed the channel:\n was %s\n now %s", dump(s), dump(rebuilt))
	}
	same, err := ApplyPatch(s, p)
	if err != nil || dump(same) != dump(s) {
		t.Fatalf("applying its own JSON: %v\n was %s\n now %s", err, dump(s), dump(same))
	}
	var stored Settings
	if err := json.Unmarshal(b, &stored); err != nil || dump(stored) != dump(s) {
		t.Fatalf("stored form: %v\n was %s\n now %s", err, dump(s), dump(stored))
	}
}
