package httpapi

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"catfish/channel"
)

// exactFieldNames checks that every object key in body names a field of
// v's type exactly as its json tag spells it. encoding/json would take
// "Aliases" for "aliases"; an admin API that says it refuses unknown
// fields must not quietly accept a misspelt one. path prefixes the field
// names in errors.
func exactFieldNames(body []byte, v any) error {
	return checkNames(body, reflect.TypeOf(v), "")
}

func checkNames(raw []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil || obj == nil {
			return nil // not an object: the decoder has judged it already
		}
		fields := jsonFields(t)
		for key, val := range obj {
			ft, ok := fields[key]
			if !ok {
				return &channel.FieldError{Field: join(path, key), Msg: "is not a known field (names are case-sensitive)"}
			}
			if err := checkNames(val, ft, join(path, key)); err != nil {
				return err
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return nil
		}
		for key, val := range obj {
			if err := checkNames(val, t.Elem(), join(path, key)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil
		}
		for i, val := range list {
			if err := checkNames(val, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields maps a struct's JSON names to their types, embedded structs
// flattened as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
