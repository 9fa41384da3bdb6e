package persist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// opened is what one Open saw.
type opened struct {
	s       *Store
	rec     Recovery
	snapSeq uint64
	state   []byte // nil: no snapshot
	records []Record
}

// open opens dir and collects what it hands out.
func open(dir string) (*opened, error) {
	o := &opened{}
	s, rec, err := Open(dir,
		func(seq uint64, state []byte) error {
			o.snapSeq, o.state = seq, bytes.Clone(state)
			return nil
		},
		func(r Record) error {
			r.Payload = bytes.Clone(r.Payload)
			o.records = append(o.records, r)
			return nil
		})
	o.s, o.rec = s, rec
	return o, err
}

func mustOpen(t *testing.T, dir string) *opened {
	t.Helper()
	o, err := open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { o.s.Close() })
	return o
}

// payload is the payload of test record i.
func payload(i int) []byte { return fmt.Appendf(nil, `{"i":%d}`, i) }

// ints returns the i of each record's payload.
func ints(t *testing.T, recs []Record) []int {
	t.Helper()
	out := make([]int, 0, len(recs))
	for _, r := range recs {
		var p struct{ I int }
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			t.Fatalf("record %d: payload %s: %v", r.Seq, r.Payload, err)
		}
		out = append(out, p.I)
	}
	return out
}

// seqs returns the records' sequence numbers.
func seqs(recs []Record) []uint64 {
	out := make([]uint64, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// commitRange commits records from..to, each carrying its own number.
func commitRange(t *testing.T, s *Store, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		seq, err := s.Commit("test", payload(i))
		if err != nil {
			t.Fatalf("Commit %d: %v", i, err)
		}
		if seq != uint64(i) {
			t.Fatalf("Commit %d got seq %d", i, seq)
		}
	}
}

// readDir returns every file in dir by name.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// writeDir makes dir hold exactly files.
func writeDir(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func sameDir(t *testing.T, what string, before, after map[string][]byte) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if b, ok := after[name]; !ok {
			t.Errorf("%s: %s was removed", what, name)
		} else if !bytes.Equal(b, before[name]) {
			t.Errorf("%s: %s changed (%d bytes, was %d)", what, name, len(b), len(before[name]))
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s: %s was created", what, name)
		}
	}
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, filepath.Base(s.path))
	}
	return out
}

func TestOpenEmpty(t *testing.T) {
	for _, name := range []string{"existing", "missing/nested"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			o := mustOpen(t, dir)
			if !o.rec.Fresh || o.rec.SnapshotSeq != 0 || o.rec.Replayed != 0 || o.rec.LastSeq != 0 || len(o.rec.Warnings) != 0 {
				t.Errorf("Recovery = %+v, want a fresh empty one", o.rec)
			}
			if o.state != nil || len(o.records) != 0 {
				t.Errorf("got snapshot %q and %d records from an empty dir", o.state, len(o.records))
			}
			if o.s.LastSeq() != 0 || o.s.Size() != 0 {
				t.Errorf("LastSeq %d, Size %d; want 0, 0", o.s.LastSeq(), o.s.Size())
			}
			// Opening it again without writing anything is still fresh.
			o.s.Close()
			if o2 := mustOpen(t, dir); !o2.rec.Fresh {
				t.Errorf("reopened empty dir: Fresh = false")
			}
		})
	}
}

func TestAppendSyncReopen(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	types := []string{"a", "b", "channel.put", "stats"}
	var size int64
	for i := 1; i <= 20; i++ {
		seq, err := o.s.Append(types[i%len(types)], payload(i))
		if err != nil || seq != uint64(i) {
			t.Fatalf("Append %d = %d, %v", i, seq, err)
		}
		f, _ := AppendFrame(nil, Record{Seq: seq, Type: types[i%len(types)], Payload: payload(i)})
		size += int64(len(f))
	}
	if err := o.s.Sync(20); err != nil {
		t.Fatal(err)
	}
	if o.s.Size() != size || o.s.LastSeq() != 20 {
		t.Errorf("Size %d LastSeq %d, want %d 20", o.s.Size(), o.s.LastSeq(), size)
	}
	// Sync of something already durable is a no-op.
	if err := o.s.Sync(3); err != nil {
		t.Fatal(err)
	}
	if err := o.s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.s.Append("late", payload(0)); err == nil {
		t.Error("Append after Close succeeded")
	}

	o2 := mustOpen(t, dir)
	if o2.rec.Fresh || o2.rec.Replayed != 20 || o2.rec.LastSeq != 20 || len(o2.rec.Warnings) != 0 {
		t.Errorf("Recovery = %+v", o2.rec)
	}
	if got := ints(t, o2.records); !slices.Equal(got, span(1, 20)) {
		t.Errorf("replayed %v, want 1..20", got)
	}
	for i, r := range o2.records {
		if r.Type != types[(i+1)%len(types)] {
			t.Errorf("record %d type %q, want %q", r.Seq, r.Type, types[(i+1)%len(types)])
		}
	}
	if o2.s.Size() != size {
		t.Errorf("Size after reopen = %d, want %d", o2.s.Size(), size)
	}
	// Appends go on from where the journal ended.
	commitRange(t, o2.s, 21, 22)
	o2.s.Close()
	if got := ints(t, mustOpen(t, dir).records); !slices.Equal(got, span(1, 22)) {
		t.Errorf("replayed %v, want 1..22", got)
	}
}

func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	const writers = 50
	got := make([]uint64, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			got[w], errs[w] = o.s.Commit("w", payload(w))
		})
	}
	close(start)
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	sorted := slices.Sorted(slices.Values(got))
	for i, seq := range sorted {
		if seq != uint64(i+1) {
			t.Fatalf("seqs %v are not 1..%d", sorted, writers)
		}
	}
	o.s.Close()

	o2 := mustOpen(t, dir)
	if len(o2.records) != writers {
		t.Fatalf("replayed %d records, want %d", len(o2.records), writers)
	}
	for i, r := range o2.records {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: not in order", i, r.Seq)
		}
	}
	// Each writer's payload sits at the seq its Commit returned.
	for i, w := range ints(t, o2.records) {
		if got[w] != uint64(i+1) {
			t.Errorf("writer %d was told seq %d, its record is at %d", w, got[w], i+1)
		}
	}
}

// tail returns the only segment of dir.
func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	segs := segmentFiles(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	return filepath.Join(dir, segs[0])
}

func TestTornTailIsCut(t *testing.T) {
	partial := mustFrame(t, Record{Seq: 6, Type: "test", Payload: payload(6)})
	badSum := bytes.Clone(partial)
	badSum[6] ^= 1
	tests := []struct {
		name    string
		garbage []byte
	}{
		{"three bytes", []byte{1, 2, 3}},
		{"header only", partial[:headerSize]},
		{"half a record", partial[:len(partial)/2]},
		{"all but one byte", partial[:len(partial)-1]},
		{"whole record, bad checksum", badSum},
		{"zeros", make([]byte, 4096)},
		{"text", []byte("this is not a journal record at all, just some text\n")},
		{"hostile length", header(60<<20, 0)},
		{"zero length, then text", append(header(0, 0), "xyz"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := mustOpen(t, dir)
			commitRange(t, o.s, 1, 5)
			o.s.Close()
			seg := onlySegment(t, dir)
			good, _ := os.ReadFile(seg)
			damaged := append(bytes.Clone(good), tt.garbage...)
			os.WriteFile(seg, damaged, 0o600)

			o2 := mustOpen(t, dir)
			if got := ints(t, o2.records); !slices.Equal(got, span(1, 5)) {
				t.Errorf("replayed %v, want 1..5", got)
			}
			if len(o2.rec.Warnings) != 1 || !strings.Contains(o2.rec.Warnings[0], seg) ||
				!strings.Contains(o2.rec.Warnings[0], fmt.Sprint("offset ", len(good))) {
				t.Errorf("warnings %q: want one naming %s at offset %d", o2.rec.Warnings, seg, len(good))
			}
			if b, _ := os.ReadFile(seg); !bytes.Equal(b, good) {
				t.Errorf("segment is %d bytes after the cut, want the %d good ones", len(b), len(good))
			}
			if b, err := os.ReadFile(seg + ".broken"); err != nil || !bytes.Equal(b, damaged) {
				t.Errorf("no faithful .broken copy (%v)", err)
			}
			if o2.rec.LastSeq != 5 || o2.s.Size() != int64(len(good)) {
				t.Errorf("LastSeq %d Size %d, want 5 %d", o2.rec.LastSeq, o2.s.Size(), len(good))
			}

			// Later appends work and replay after the good records.
			commitRange(t, o2.s, 6, 8)
			o2.s.Close()
			o3 := mustOpen(t, dir)
			if got := ints(t, o3.records); !slices.Equal(got, span(1, 8)) {
				t.Errorf("after more appends replayed %v, want 1..8", got)
			}
			if len(o3.rec.Warnings) != 0 {
				t.Errorf("warnings on a clean reopen: %q", o3.rec.Warnings)
			}
		})
	}
}

// A journal cut to nothing but a torn first record is an empty journal.
func TestTornOnlyRecord(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	commitRange(t, o.s, 1, 1)
	o.s.Close()
	seg := onlySegment(t, dir)
	b, _ := os.ReadFile(seg)
	os.WriteFile(seg, b[:len(b)-2], 0o600)
	o2 := mustOpen(t, dir)
	if len(o2.records) != 0 || len(o2.rec.Warnings) != 1 || o2.rec.LastSeq != 0 {
		t.Errorf("records %d, recovery %+v", len(o2.records), o2.rec)
	}
	commitRange(t, o2.s, 1, 2)
}

func TestCorruptionInTheMiddleStops(t *testing.T) {
	type state struct {
		dir    string
		bad    string // file named in the error
		offset int    // offset named in the error
	}
	build := func(t *testing.T, damage func(t *testing.T, dir string) (string, int)) state {
		dir := t.TempDir()
		o := mustOpen(t, dir)
		commitRange(t, o.s, 1, 5)
		if _, err := o.s.Rotate(); err != nil {
			t.Fatal(err)
		}
		commitRange(t, o.s, 6, 10)
		o.s.Close()
		bad, off := damage(t, dir)
		return state{dir: dir, bad: bad, offset: off}
	}
	segs := func(t *testing.T, dir string) []string {
		files := segmentFiles(t, dir)
		if len(files) != 2 {
			t.Fatalf("segments %v, want two", files)
		}
		return []string{filepath.Join(dir, files[0]), filepath.Join(dir, files[1])}
	}
	// recordOffset is where record k (0-based) of a segment starts.
	recordOffset := func(t *testing.T, b []byte, k int) int {
		off := 0
		for range k {
			_, n, err := DecodeFrame(b[off:])
			if err != nil {
				t.Fatal(err)
			}
			off += n
		}
		return off
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string) (string, int)
	}{
		{"flipped byte in the last segment", func(t *testing.T, dir string) (string, int) {
			seg := segs(t, dir)[1]
			b, _ := os.ReadFile(seg)
			off := recordOffset(t, b, 2)
			b[off+headerSize+3] ^= 0x20
			os.WriteFile(seg, b, 0o600)
			return seg, off
		}},
		{"zeroed record in the last segment", func(t *testing.T, dir string) (string, int) {
			seg := segs(t, dir)[1]
			b, _ := os.ReadFile(seg)
			off := recordOffset(t, b, 1)
			end := recordOffset(t, b, 2)
			clear(b[off:end])
			os.WriteFile(seg, b, 0o600)
			return seg, off
		}},
		{"flipped byte in an older segment", func(t *testing.T, dir string) (string, int) {
			seg := segs(t, dir)[0]
			b, _ := os.ReadFile(seg)
			off := recordOffset(t, b, 4)
			b[off+5] ^= 0x01
			os.WriteFile(seg, b, 0o600)
			return seg, off
		}},
		{"torn tail of an older segment", func(t *testing.T, dir string) (string, int) {
			seg := segs(t, dir)[0]
			b, _ := os.ReadFile(seg)
			off := recordOffset(t, b, 4)
			os.WriteFile(seg, b[:len(b)-3], 0o600)
			return seg, off
		}},
		{"garbage appended to an older segment", func(t *testing.T, dir string) (string, int) {
			seg := segs(t, dir)[0]
			b, _ := os.ReadFile(seg)
			os.WriteFile(seg, append(b, "garbage"...), 0o600)
			return seg, len(b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := build(t, tt.damage)
			before := readDir(t, st.dir)
			o, err := open(st.dir)
			if err == nil {
				o.s.Close()
				t.Fatalf("Open succeeded on a corrupt journal (replayed %d records, warnings %q)", len(o.records), o.rec.Warnings)
			}
			msg := err.Error()
			if !strings.Contains(msg, st.bad) || !strings.Contains(msg, fmt.Sprint("offset ", st.offset)) {
				t.Errorf("error %q does not name %s and offset %d", msg, st.bad, st.offset)
			}
			sameDir(t, "after a refused Open", before, readDir(t, st.dir))
		})
	}
}

func TestReplayErrorStops(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	commitRange(t, o.s, 1, 3)
	o.s.Close()
	before := readDir(t, dir)
	boom := errors.New("boom")
	_, _, err := Open(dir, func(uint64, []byte) error { return nil }, func(r Record) error {
		if r.Seq == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "record 2") {
		t.Errorf("Open = %v, want boom naming record 2", err)
	}
	sameDir(t, "after a failed replay", before, readDir(t, dir))
}

// withSnapshot returns a dir holding records 1..5, a snapshot at 5 (state
// [1..5]) and records 6..7 after it.
func withSnapshot(t *testing.T) string {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	commitRange(t, o.s, 1, 5)
	seq, err := o.s.Rotate()
	if err != nil || seq != 5 {
		t.Fatalf("Rotate = %d, %v", seq, err)
	}
	commitRange(t, o.s, 6, 7)
	if err := o.s.WriteSnapshot(5, []byte(`[1,2,3,4,5]`)); err != nil {
		t.Fatal(err)
	}
	o.s.Close()
	return dir
}

func TestCorruptSnapshotStops(t *testing.T) {
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"cut short", func(b []byte) []byte { return b[:len(b)/2] }},
		{"not JSON", func([]byte) []byte { return []byte("not json at all") }},
		{"empty", func([]byte) []byte { return nil }},
		{"state changed, checksum not", func(b []byte) []byte {
			return bytes.Replace(b, []byte("[1,2,3,4,5]"), []byte("[1,2,3,4,6]"), 1)
		}},
		{"checksum changed", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"crc32c":"`)) + len(`"crc32c":"`)
			b = bytes.Clone(b)
			if b[i] == '0' {
				b[i] = '1'
			} else {
				b[i] = '0'
			}
			return b
		}},
		{"other format", func(b []byte) []byte {
			return bytes.Replace(b, []byte("catfish-snapshot"), []byte("dogfish-snapshot"), 1)
		}},
		{"other version", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"version":1`), []byte(`"version":2`), 1)
		}},
		{"no state", func([]byte) []byte {
			return []byte(`{"format":"catfish-snapshot","version":1,"seq":5,"crc32c":"00000000"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := withSnapshot(t)
			path := filepath.Join(dir, SnapshotFile)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, tt.damage(b), 0o600)
			before := readDir(t, dir)
			o, err := open(dir)
			if err == nil {
				o.s.Close()
				t.Fatalf("Open succeeded with a corrupt snapshot: state %q, %d records", o.state, len(o.records))
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if o.state != nil || len(o.records) != 0 {
				t.Errorf("a corrupt snapshot handed out state %q and %d records", o.state, len(o.records))
			}
			sameDir(t, "after a refused Open", before, readDir(t, dir))
		})
	}

	t.Run("snapshot loader fails", func(t *testing.T) {
		dir := withSnapshot(t)
		before := readDir(t, dir)
		_, _, err := Open(dir, func(uint64, []byte) error { return errors.New("bad state") }, func(Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, SnapshotFile)) {
			t.Errorf("Open = %v, want an error naming the snapshot", err)
		}
		sameDir(t, "after a refused Open", before, readDir(t, dir))
	})
}

func TestSnapshotDropsOlderSegments(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	commitRange(t, o.s, 1, 5)
	seq, err := o.s.Rotate()
	if err != nil || seq != 5 {
		t.Fatalf("Rotate = %d, %v", seq, err)
	}
	commitRange(t, o.s, 6, 7)
	if segs := segmentFiles(t, dir); len(segs) != 2 {
		t.Fatalf("segments before the snapshot: %v", segs)
	}
	sizeBefore := o.s.Size()
	if err := o.s.WriteSnapshot(seq, []byte(`[1,2,3,4,5]`)); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, dir)
	if want := []string{segmentName(6)}; !slices.Equal(segs, want) {
		t.Errorf("segments after the snapshot: %v, want %v", segs, want)
	}
	if _, err := os.Stat(filepath.Join(dir, SnapshotFile+".tmp")); err == nil {
		t.Error("snapshot.json.tmp left behind")
	}
	if got, want := o.s.Size(), fileSize(filepath.Join(dir, segmentName(6))); got != want || got >= sizeBefore {
		t.Errorf("Size = %d, want %d (the one segment left), less than %d", got, want, sizeBefore)
	}
	commitRange(t, o.s, 8, 8)
	o.s.Close()

	o2 := mustOpen(t, dir)
	if o2.snapSeq != 5 || string(o2.state) != `[1,2,3,4,5]` || o2.rec.SnapshotSeq != 5 {
		t.Errorf("snapshot %d %q (recovery %+v), want 5 [1,2,3,4,5]", o2.snapSeq, o2.state, o2.rec)
	}
	if got := ints(t, o2.records); !slices.Equal(got, span(6, 8)) {
		t.Errorf("replayed %v, want 6..8", got)
	}
	if o2.rec.LastSeq != 8 || o2.rec.Fresh {
		t.Errorf("recovery %+v", o2.rec)
	}
}

// A snapshot in the middle of the current segment keeps the segment and
// replay skips what the snapshot covers.
func TestSnapshotWithoutRotate(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	commitRange(t, o.s, 1, 3)
	if err := o.s.WriteSnapshot(2, []byte(`[1,2]`)); err != nil {
		t.Fatal(err)
	}
	if segs := segmentFiles(t, dir); len(segs) != 1 {
		t.Errorf("segments %v: the current one must stay", segs)
	}
	o.s.Close()
	o2 := mustOpen(t, dir)
	if o2.snapSeq != 2 || !slices.Equal(ints(t, o2.records), []int{3}) || o2.rec.Replayed != 1 {
		t.Errorf("snapshot %d, replayed %v (%+v); want 2 and [3]", o2.snapSeq, ints(t, o2.records), o2.rec)
	}
	// Only the snapshot and nothing after it.
	commitRange(t, o2.s, 4, 4)
	if err := o2.s.WriteSnapshot(4, []byte(`[1,2,3,4]`)); err != nil {
		t.Fatal(err)
	}
	o2.s.Close()
	o3 := mustOpen(t, dir)
	if o3.snapSeq != 4 || len(o3.records) != 0 || o3.rec.LastSeq != 4 || o3.rec.Fresh {
		t.Errorf("snapshot %d, %d records, recovery %+v", o3.snapSeq, len(o3.records), o3.rec)
	}
	commitRange(t, o3.s, 5, 5)
}

func TestWriteSnapshotRefusesBadJSON(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	if err := o.s.WriteSnapshot(0, []byte(`{"a":`)); err == nil {
		t.Error("WriteSnapshot took state that is not JSON")
	}
	if _, err := os.Stat(filepath.Join(dir, SnapshotFile)); err == nil {
		t.Error("a snapshot was written")
	}
}

// WriteSnapshot accepts any valid JSON, but the checksum is taken over the
// bytes as given while readSnapshot checks it over the "state" value as
// json.RawMessage holds it, without surrounding white space. State ending
// in a newline (what json.Encoder writes) makes a snapshot that every later
// start calls corrupt.
func TestSnapshotStateWithSurroundingSpaceReadsBack(t *testing.T) {
	for _, state := range []string{"{\"a\":1}\n", " [1,2]", "\t{}\r\n"} {
		dir := t.TempDir()
		o := mustOpen(t, dir)
		commitRange(t, o.s, 1, 1)
		if err := o.s.WriteSnapshot(1, []byte(state)); err != nil {
			t.Fatalf("WriteSnapshot(%q): %v", state, err)
		}
		o.s.Close()
		o2, err := open(dir)
		if err != nil {
			t.Errorf("state %q: reopen: %v", state, err)
			continue
		}
		o2.s.Close()
		if strings.TrimSpace(string(o2.state)) != strings.TrimSpace(state) {
			t.Errorf("state %q came back as %q", state, o2.state)
		}
	}
}

// TestCompactionCrashStates builds the directory a kill leaves between any
// two steps of compaction (append, rotate, write temp snapshot, rename,
// delete old segments) and checks each recovers the same records.
func TestCompactionCrashStates(t *testing.T) {
	// The reference run: records 1..5, rotate, 6..8, snapshot at 5.
	ref := t.TempDir()
	o := mustOpen(t, ref)
	commitRange(t, o.s, 1, 5)
	afterAppend := readDir(t, ref)
	if _, err := o.s.Rotate(); err != nil {
		t.Fatal(err)
	}
	afterRotate := readDir(t, ref)
	commitRange(t, o.s, 6, 8)
	beforeSnapshot := readDir(t, ref)
	if err := o.s.WriteSnapshot(5, []byte(`[1,2,3,4,5]`)); err != nil {
		t.Fatal(err)
	}
	done := readDir(t, ref)
	o.s.Close()
	snap := done[SnapshotFile]
	if snap == nil || len(done) != 2 {
		t.Fatalf("reference run left %v", slices.Sorted(maps.Keys(done)))
	}

	with := func(base map[string][]byte, extra map[string][]byte) map[string][]byte {
		out := maps.Clone(base)
		maps.Copy(out, extra)
		return out
	}
	tests := []struct {
		name     string
		files    map[string][]byte
		want     []int // the whole state: snapshot then replayed records
		snapshot bool
		warn     bool
	}{
		{"appended, not rotated", afterAppend, span(1, 5), false, false},
		{"rotated, nothing after", afterRotate, span(1, 5), false, false},
		{"rotated, records after, no snapshot", beforeSnapshot, span(1, 8), false, false},
		{"temp snapshot half written", with(beforeSnapshot, map[string][]byte{SnapshotFile + ".tmp": snap[:len(snap)/2]}), span(1, 8), false, true},
		{"temp snapshot complete, not renamed", with(beforeSnapshot, map[string][]byte{SnapshotFile + ".tmp": snap}), span(1, 8), false, true},
		{"temp snapshot empty", with(beforeSnapshot, map[string][]byte{SnapshotFile + ".tmp": {}}), span(1, 8), false, true},
		{"renamed, old segments kept", with(beforeSnapshot, map[string][]byte{SnapshotFile: snap}), span(1, 8), true, false},
		{"done", done, span(1, 8), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeDir(t, dir, tt.files)
			o := mustOpen(t, dir)
			var got []int
			if o.state != nil {
				if err := json.Unmarshal(o.state, &got); err != nil {
					t.Fatalf("snapshot state %q: %v", o.state, err)
				}
			}
			if (o.state != nil) != tt.snapshot {
				t.Errorf("snapshot loaded: %v, want %v", o.state != nil, tt.snapshot)
			}
			got = append(got, ints(t, o.records)...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("recovered %v, want %v", got, tt.want)
			}
			if (len(o.rec.Warnings) > 0) != tt.warn {
				t.Errorf("warnings %q, want some: %v", o.rec.Warnings, tt.warn)
			}
			if _, err := os.Stat(filepath.Join(dir, SnapshotFile+".tmp")); err == nil {
				t.Error("the temp snapshot is still there")
			}
			// The store goes on: compaction can run again and later
			// records survive.
			last := tt.want[len(tt.want)-1]
			commitRange(t, o.s, last+1, last+2)
			seq, err := o.s.Rotate()
			if err != nil {
				t.Fatal(err)
			}
			state, _ := json.Marshal(span(1, last+2))
			if err := o.s.WriteSnapshot(seq, state); err != nil {
				t.Fatal(err)
			}
			o.s.Close()
			o2 := mustOpen(t, dir)
			var again []int
			json.Unmarshal(o2.state, &again)
			again = append(again, ints(t, o2.records)...)
			if !slices.Equal(again, span(1, last+2)) {
				t.Errorf("after another compaction recovered %v, want 1..%d", again, last+2)
			}
		})
	}
}

func TestMissingRecordsStop(t *testing.T) {
	t.Run("snapshot deleted", func(t *testing.T) {
		dir := withSnapshot(t) // segments start at 6
		os.Remove(filepath.Join(dir, SnapshotFile))
		before := readDir(t, dir)
		o, err := open(dir)
		if err == nil {
			o.s.Close()
			t.Fatalf("Open succeeded with records 1..5 missing: replayed %v", ints(t, o.records))
		}
		if !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), segmentName(6)) {
			t.Errorf("error %q: want it to say records are missing, naming %s", err, segmentName(6))
		}
		sameDir(t, "after a refused Open", before, readDir(t, dir))
	})
	t.Run("middle segment deleted", func(t *testing.T) {
		dir := t.TempDir()
		o := mustOpen(t, dir)
		commitRange(t, o.s, 1, 2)
		o.s.Rotate()
		commitRange(t, o.s, 3, 4)
		o.s.Rotate()
		commitRange(t, o.s, 5, 6)
		o.s.Close()
		os.Remove(filepath.Join(dir, segmentName(3)))
		if o, err := open(dir); err == nil {
			o.s.Close()
			t.Fatalf("Open succeeded with records 3..4 missing: replayed %v", ints(t, o.records))
		} else if !strings.Contains(err.Error(), "missing") {
			t.Errorf("error %q does not say records are missing", err)
		}
	})
	t.Run("snapshot older than the journal", func(t *testing.T) {
		// A snapshot at 2 restored from a backup next to segments that
		// start at 6.
		dir := withSnapshot(t)
		d2 := t.TempDir()
		o := mustOpen(t, d2)
		commitRange(t, o.s, 1, 2)
		o.s.WriteSnapshot(2, []byte(`[1,2]`))
		o.s.Close()
		old, _ := os.ReadFile(filepath.Join(d2, SnapshotFile))
		os.WriteFile(filepath.Join(dir, SnapshotFile), old, 0o600)
		if o, err := open(dir); err == nil {
			o.s.Close()
			t.Fatalf("Open succeeded with records 3..5 missing")
		}
	})
}

// After a clean compaction the directory holds the snapshot and an empty
// segment named for the next seq. If the snapshot is lost, Open sees no
// record at all and calls the directory fresh: the engine then starts
// empty (or imports config.json) over data it once had, and new records
// 1, 2, … go into a segment whose name says it starts at 6, so a later
// Rotate can collide with an existing name (O_EXCL) and fail the store.
// The segment's name alone shows records 1..5 are missing.
func TestSnapshotLostBesideEmptySegmentIsMissingRecords(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	commitRange(t, o.s, 1, 5)
	seq, _ := o.s.Rotate()
	if err := o.s.WriteSnapshot(seq, []byte(`[1,2,3,4,5]`)); err != nil {
		t.Fatal(err)
	}
	o.s.Close()
	if segs := segmentFiles(t, dir); !slices.Equal(segs, []string{segmentName(6)}) {
		t.Fatalf("segments %v", segs)
	}
	os.Remove(filepath.Join(dir, SnapshotFile))
	o2, err := open(dir)
	if err == nil {
		defer o2.s.Close()
		t.Fatalf("Open succeeded (recovery %+v): records 1..5 are missing", o2.rec)
	}
}
