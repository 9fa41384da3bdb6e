package dialect

import (
	"mime"
	"strings"
)

// MediaType is a Content-Type's media type, lower case, without
// parameters; "" when absent or malformed. The common plain values skip
// the full parser, which allocates.
func MediaType(ct string) string {
	switch ct {
	case "application/json", "text/event-stream":
		return ct
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// IsJSONType reports a JSON media type: application/json or any +json.
func IsJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
