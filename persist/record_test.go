package persist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"runtime"
	"testing"
	"unicode/utf8"
)

// frame builds a frame by hand from a body, with a correct checksum.
func frame(body string) []byte {
	b := make([]byte, headerSize, headerSize+len(body))
	binary.LittleEndian.PutUint32(b[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum([]byte(body), castagnoli))
	return append(b, body...)
}

// header is a bare frame header claiming n body bytes.
func header(n, sum uint32) []byte {
	b := make([]byte, headerSize)
	binary.LittleEndian.PutUint32(b[0:4], n)
	binary.LittleEndian.PutUint32(b[4:8], sum)
	return b
}

func mustFrame(t testing.TB, r Record) []byte {
	t.Helper()
	b, err := AppendFrame(nil, r)
	if err != nil {
		t.Fatalf("AppendFrame(%+v): %v", r, err)
	}
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	recs := []Record{
		{Seq: 1, Type: "channel.put", Payload: json.RawMessage(`{"channel":{"id":"a","url":"https://a.example/v1"}}`)},
		{Seq: 2, Type: "channel.delete", Payload: json.RawMessage(`{"id":"a"}`)},
		{Seq: 3, Type: "stats", Payload: json.RawMessage(`{}`)},
		{Seq: 1 << 60, Type: "x", Payload: json.RawMessage(`"a string with \"quotes\", ✓ and \u0000"`)},
		{Seq: 5, Type: "null payload", Payload: nil},
		{Seq: 6, Type: "array", Payload: json.RawMessage(`[1,2,3]`)},
	}
	for _, r := range recs {
		t.Run(r.Type, func(t *testing.T) {
			b := mustFrame(t, r)
			got, n, err := DecodeFrame(b)
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if n != len(b) {
				t.Errorf("size = %d, want %d", n, len(b))
			}
			want := r
			if want.Payload == nil {
				want.Payload = json.RawMessage("null")
			}
			if got.Seq != want.Seq || got.Type != want.Type || !bytes.Equal(got.Payload, want.Payload) {
				t.Errorf("got %+v (payload %s), want %+v (payload %s)", got, got.Payload, want, want.Payload)
			}
		})
	}

	// Frames one after another decode one by one, each with its size.
	var all []byte
	for _, r := range recs {
		var err error
		if all, err = AppendFrame(all, r); err != nil {
			t.Fatal(err)
		}
	}
	for i, off := 0, 0; off < len(all); i++ {
		got, n, err := DecodeFrame(all[off:])
		if err != nil {
			t.Fatalf("frame %d at offset %d: %v", i, off, err)
		}
		if got.Seq != recs[i].Seq {
			t.Fatalf("frame %d: seq %d, want %d", i, got.Seq, recs[i].Seq)
		}
		off += n
	}
}

func TestAppendFrameRefuses(t *testing.T) {
	if _, err := AppendFrame(nil, Record{Seq: 1, Type: "t", Payload: json.RawMessage(`{not json`)}); err == nil {
		t.Error("AppendFrame took a payload that is not JSON")
	}
	dst := []byte("keep")
	out, err := AppendFrame(dst, Record{Seq: 1, Type: "t", Payload: json.RawMessage(`{`)})
	if err == nil || string(out) != "keep" {
		t.Errorf("AppendFrame on error = %q, %v; want dst unchanged and an error", out, err)
	}
	big := make([]byte, MaxRecord+2)
	big[0] = '"'
	for i := 1; i < len(big)-1; i++ {
		big[i] = 'a'
	}
	big[len(big)-1] = '"'
	if _, err := AppendFrame(nil, Record{Seq: 1, Type: "t", Payload: big}); err == nil {
		t.Error("AppendFrame wrote a record over MaxRecord")
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	good := mustFrame(t, Record{Seq: 7, Type: "channel.put", Payload: json.RawMessage(`{"id":"x"}`)})
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"one byte", []byte{1}, ErrShort},
		{"seven bytes", good[:7], ErrShort},
		{"header only", good[:headerSize], ErrShort},
		{"body cut by one", good[:len(good)-1], ErrShort},
		{"body half there", good[:headerSize+(len(good)-headerSize)/2], ErrShort},
		{"zero length", header(0, 0), ErrCorrupt},
		{"zero length with bytes after", append(header(0, 0), good...), ErrCorrupt},
		{"length over MaxRecord", header(MaxRecord+1, 0), ErrCorrupt},
		{"length 4 GiB", header(0xFFFFFFFF, 0), ErrCorrupt},
		{"length 60 MiB, 8 bytes there", header(60<<20, 0), ErrShort},
		{"length MaxRecord, 8 bytes there", header(MaxRecord, 0), ErrShort},
		{"flipped checksum byte", flip(5), ErrCorrupt},
		{"flipped first body byte", flip(headerSize), ErrCorrupt},
		{"flipped last body byte", flip(len(good) - 1), ErrCorrupt},
		{"flipped middle body byte", flip(headerSize + 10), ErrCorrupt},
		{"good checksum, not JSON", frame(`{"seq":1,"type":"t"`), ErrCorrupt},
		{"good checksum, JSON array", frame(`[1,2]`), ErrCorrupt},
		{"good checksum, JSON string", frame(`"hello"`), ErrCorrupt},
		{"good checksum, seq is a string", frame(`{"seq":"1","type":"t","payload":{}}`), ErrCorrupt},
		{"missing seq", frame(`{"type":"t","payload":{}}`), ErrCorrupt},
		{"seq zero", frame(`{"seq":0,"type":"t","payload":{}}`), ErrCorrupt},
		{"missing type", frame(`{"seq":3,"payload":{}}`), ErrCorrupt},
		{"empty type", frame(`{"seq":3,"type":"","payload":{}}`), ErrCorrupt},
		{"negative seq", frame(`{"seq":-1,"type":"t","payload":{}}`), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := DecodeFrame(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeFrame = %+v, %d, %v; want %v", r, n, err, tt.want)
			}
			if n != 0 {
				t.Errorf("size = %d on error, want 0", n)
			}
		})
	}

	// A flipped bit in the length field never decodes as the original.
	for bit := range 32 {
		b := bytes.Clone(good)
		b[bit/8] ^= 1 << (bit % 8)
		if r, _, err := DecodeFrame(b); err == nil {
			t.Errorf("length bit %d flipped: decoded %+v", bit, r)
		} else if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
			t.Errorf("length bit %d flipped: %v, want ErrShort or ErrCorrupt", bit, err)
		}
	}
}

// TestDecodeFrameHostileLengthAllocates checks that a header claiming a
// huge body allocates nothing of that size: the length is checked against
// the bytes that are there first.
func TestDecodeFrameHostileLengthAllocates(t *testing.T) {
	for _, n := range []uint32{60 << 20, MaxRecord, MaxRecord + 1, 0xFFFFFFFF, 1 << 30} {
		h := header(n, 0xdeadbeef)
		withTail := append(bytes.Clone(h), make([]byte, 100)...)
		for _, in := range [][]byte{h, withTail} {
			var err error
			allocs := testing.AllocsPerRun(100, func() { _, _, err = DecodeFrame(in) })
			if err == nil {
				t.Fatalf("length %d: decoded", n)
			}
			if n <= MaxRecord && allocs != 0 {
				t.Errorf("length %d with %d bytes: %v allocations per call, want 0", n, len(in), allocs)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 100 {
				DecodeFrame(in)
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 1<<10 {
				t.Errorf("length %d with %d bytes: %d bytes allocated per call", n, len(in), per)
			}
		}
	}
}

func TestValidFrameAfter(t *testing.T) {
	a := mustFrame(t, Record{Seq: 1, Type: "t", Payload: json.RawMessage(`{}`)})
	b := mustFrame(t, Record{Seq: 2, Type: "t", Payload: json.RawMessage(`{"k":"v"}`)})
	garbage := []byte("\x05\x00\x00\x00garbage-garbage")
	tests := []struct {
		name   string
		in     []byte
		off    int
		want   int
		wantOK bool
	}{
		{"nothing after", a, 1, 0, false},
		{"garbage after", append(bytes.Clone(a), garbage...), 1, 0, false},
		{"zeros after", append(bytes.Clone(a), make([]byte, 64)...), 1, 0, false},
		{"good frame after garbage", append(bytes.Clone(garbage), b...), 1, len(garbage), true},
		{"good frame right there", append(bytes.Clone(a), b...), len(a), len(a), true},
	}
	for _, tt := range tests {
		got, ok := validFrameAfter(tt.in, tt.off)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: validFrameAfter = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	good := mustFrame(f, Record{Seq: 1, Type: "channel.put", Payload: json.RawMessage(`{"channel":{"id":"a"}}`)})
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(header(60<<20, 0))
	f.Add(header(0xFFFFFFFF, 0xFFFFFFFF))
	f.Add(header(0, 0))
	f.Add(frame(`{"seq":0,"type":"t"}`))
	f.Add(frame(`{"seq":1}`))
	f.Add(frame(`null`))
	f.Add(append(bytes.Clone(good), good...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := DecodeFrame(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("size %d with error %v", n, err)
			}
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is neither ErrShort nor ErrCorrupt", err)
			}
		} else {
			if n < headerSize+1 || n > len(b) {
				t.Fatalf("size %d for %d input bytes", n, len(b))
			}
			if r.Seq == 0 || r.Type == "" {
				t.Fatalf("decoded a record without seq or type: %+v", r)
			}
			// The same frame with anything after it decodes the same.
			r2, n2, err2 := DecodeFrame(append(bytes.Clone(b[:n]), 0xff, 0, 1))
			if err2 != nil || n2 != n || r2.Seq != r.Seq || r2.Type != r.Type || !bytes.Equal(r2.Payload, r.Payload) {
				t.Fatalf("frame followed by bytes: %+v %d %v, want %+v %d", r2, n2, err2, r, n)
			}
		}
		if len(b) >= headerSize {
			claimed := uint64(binary.LittleEndian.Uint32(b))
			if claimed > uint64(len(b)-headerSize) && err == nil {
				t.Fatalf("length %d with %d body bytes decoded", claimed, len(b)-headerSize)
			}
			if claimed > uint64(len(b)-headerSize) && claimed <= MaxRecord {
				// A plausible length with too few bytes: ErrShort, and
				// the answer comes before any allocation. (Above
				// MaxRecord the error is built with fmt, whose
				// allocations vary under -race; the unit test bounds
				// their bytes.)
				if allocs := testing.AllocsPerRun(1, func() { DecodeFrame(b) }); allocs != 0 {
					t.Fatalf("length %d with %d bytes: %v allocations", claimed, len(b), allocs)
				}
			}
		}

		// Whatever the bytes, a record carrying them round-trips.
		payload, _ := json.Marshal(b) // base64: any bytes survive
		want := Record{Seq: uint64(len(b)) + 1, Type: "fuzz/" + string(b[:min(len(b), 8)]), Payload: payload}
		fb, err := AppendFrame(nil, want)
		if err != nil {
			t.Fatalf("AppendFrame: %v", err)
		}
		got, n, err := DecodeFrame(fb)
		if err != nil || n != len(fb) {
			t.Fatalf("round trip: %v, size %d of %d", err, n, len(fb))
		}
		var back []byte
		if json.Unmarshal(got.Payload, &back) != nil || !bytes.Equal(back, b) || got.Seq != want.Seq {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
		// A type that is not valid UTF-8 comes back with U+FFFD; any
		// other record re-encodes to the very same frame.
		if again := mustFrame(t, got); utf8.ValidString(want.Type) && !bytes.Equal(again, fb) {
			t.Fatalf("re-encoding changed the frame:\n %q\n %q", fb, again)
		}
	})
}
