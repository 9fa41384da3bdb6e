package persist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// File names inside the data directory.
const (
	SnapshotFile  = "snapshot.json"
	segmentPrefix = "journal-"
	segmentSuffix = ".wal"
)

// ErrFailed is returned once a write or fsync has failed: what is on disk
// can no longer be trusted to match what was acknowledged, so the store
// refuses further writes until the process restarts and recovers.
var ErrFailed = errors.New("storage failed earlier; restart to recover")

// Store is an open data directory.
type Store struct {
	dir     string
	snapSeq uint64 // the snapshot's seq at Open; earlier records are skipped

	syncMu sync.Mutex // one fsync at a time; held while rotating too

	mu       sync.Mutex // guards everything below
	f        *os.File   // current segment, opened for append
	segFirst uint64     // first seq the current segment may hold
	seq      uint64     // last seq written
	synced   uint64     // last seq known durable
	older    int64      // bytes in segments before the current one
	size     int64      // bytes in the current segment
	failed   error
	buf      []byte
}

// Recovery reports what Open found.
type Recovery struct {
	SnapshotSeq uint64   // 0: no snapshot
	Replayed    int      // records passed to replay
	LastSeq     uint64   // last durable seq
	Warnings    []string // torn tails cut, leftovers removed
	Fresh       bool     // the directory held no snapshot and no records
}

type segment struct {
	path  string
	first uint64
}

// Open recovers the directory and opens it for appending. It hands the
// snapshot (if any) to snapshot, then every later record, in order, to
// replay. A torn record at the very end of the journal is cut off (a copy
// of the segment is kept with a .broken suffix); any other damage stops
// Open with an error naming the file and offset, and nothing is changed.
func Open(dir string, snapshot func(seq uint64, state []byte) error, replay func(Record) error) (*Store, Recovery, error) {
	var rec Recovery
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rec, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, SnapshotFile+".tmp")); err == nil {
		rec.Warnings = append(rec.Warnings, "removed an unfinished snapshot.json.tmp (a crash during compaction)")
	}
	snapSeq, state, err := readSnapshot(filepath.Join(dir, SnapshotFile))
	if err != nil {
		return nil, rec, err
	}
	if state != nil {
		if err := snapshot(snapSeq, state); err != nil {
			return nil, rec, fmt.Errorf("load %s: %w", filepath.Join(dir, SnapshotFile), err)
		}
	}
	rec.SnapshotSeq = snapSeq
	segs, err := listSegments(dir)
	if err != nil {
		return nil, rec, err
	}
	s := &Store{dir: dir, seq: snapSeq, snapSeq: snapSeq}
	for i, sg := range segs {
		last := i == len(segs)-1
		n, warn, err := s.replaySegment(sg, last, replay)
		if err != nil {
			return nil, rec, err
		}
		rec.Replayed += n
		if warn != "" {
			rec.Warnings = append(rec.Warnings, warn)
		}
		if !last {
			s.older += fileSize(sg.path)
		}
	}
	rec.Fresh = state == nil && s.seq == 0
	rec.LastSeq = s.seq
	s.synced = s.seq
	if len(segs) > 0 {
		cur := segs[len(segs)-1]
		f, err := os.OpenFile(cur.path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, rec, fmt.Errorf("open journal: %w", err)
		}
		s.f, s.segFirst, s.size = f, cur.first, fileSize(cur.path)
	} else if err := s.newSegment(); err != nil {
		return nil, rec, err
	}
	return s, rec, nil
}

// replaySegment decodes one segment and passes records after the snapshot
// to replay.
func (s *Store) replaySegment(sg segment, last bool, replay func(Record) error) (int, string, error) {
	b, err := os.ReadFile(sg.path)
	if err != nil {
		return 0, "", fmt.Errorf("read journal: %w", err)
	}
	// A segment is named by the first seq it holds: one that starts past
	// the next expected record means records are missing (a lost snapshot
	// beside a compacted journal, say), never a fresh start.
	if sg.first > s.seq+1 {
		return 0, "", fmt.Errorf("journal %s starts at record %d but the state before it ends at %d: records are missing "+
			"(was %s lost?); refusing to start rather than lose data", sg.path, sg.first, s.seq, SnapshotFile)
	}
	replayed := 0
	for off := 0; off < len(b); {
		r, n, err := DecodeFrame(b[off:])
		if err != nil {
			if next, ok := validFrameAfter(b, off+1); ok || !last {
				where := "good records follow"
				if ok {
					where = fmt.Sprintf("a good record follows at offset %d", next)
				} else {
					where = "later journal segments follow"
				}
				return 0, "", fmt.Errorf("journal %s is corrupt at offset %d (%v) and %s, so this is not a torn write: "+
					"refusing to start rather than lose data; restore the data directory from a backup", sg.path, off, err, where)
			}
			return replayed, s.cutTail(sg.path, b, off, err), nil
		}
		if off == 0 && r.Seq != sg.first {
			return 0, "", fmt.Errorf("journal %s: first record is %d, but its name says %d; refusing to start", sg.path, r.Seq, sg.first)
		}
		if r.Seq <= s.snapSeq {
			off += n // already in the snapshot
			continue
		}
		if r.Seq != s.seq+1 {
			return 0, "", fmt.Errorf("journal %s offset %d: record %d follows %d: records are missing; refusing to start", sg.path, off, r.Seq, s.seq)
		}
		if err := replay(r); err != nil {
			return 0, "", fmt.Errorf("journal %s offset %d, record %d (%s): %w", sg.path, off, r.Seq, r.Type, err)
		}
		s.seq = r.Seq
		replayed++
		off += n
	}
	return replayed, "", nil
}

// cutTail keeps a copy of a segment with a torn tail and truncates it to
// its last good record.
func (s *Store) cutTail(path string, b []byte, off int, cause error) string {
	broken := path + ".broken"
	if err := os.WriteFile(broken, b, 0o600); err != nil {
		return fmt.Sprintf("journal %s has a torn record at offset %d (%v); could not save a copy: %v", path, off, cause, err)
	}
	if err := os.Truncate(path, int64(off)); err != nil {
		return fmt.Sprintf("journal %s has a torn record at offset %d; truncate failed: %v", path, off, err)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		f.Sync()
		f.Close()
	}
	return fmt.Sprintf("journal %s: cut a torn record at offset %d (%v), %d bytes dropped; the original is kept as %s",
		path, off, cause, len(b)-off, broken)
}

func listSegments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list data dir: %w", err)
	}
	var segs []segment
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segmentPrefix), segmentSuffix), 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{path: filepath.Join(dir, name), first: first})
	}
	slices.SortFunc(segs, func(a, b segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

func segmentName(first uint64) string {
	return fmt.Sprintf("%s%016x%s", segmentPrefix, first, segmentSuffix)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// newSegment starts a segment for records from s.seq+1. Caller holds mu
// (or has exclusive access during Open).
func (s *Store) newSegment() error {
	first := s.seq + 1
	path := filepath.Join(s.dir, segmentName(first))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create journal segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	s.f, s.segFirst, s.size = f, first, 0
	return nil
}

// Append writes one record and returns its sequence number. The record is
// not durable until Sync(seq) returns.
func (s *Store) Append(typ string, payload []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return 0, s.failed
	}
	seq := s.seq + 1
	frame, err := AppendFrame(s.buf[:0], Record{Seq: seq, Type: typ, Payload: payload})
	if err != nil {
		return 0, err
	}
	s.buf = frame[:0]
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep a huge buffer around
	}
	if _, err := s.f.Write(frame); err != nil {
		s.failed = fmt.Errorf("%w: write %s: %v", ErrFailed, s.f.Name(), err)
		return 0, s.failed
	}
	s.seq = seq
	s.size += int64(len(frame))
	return seq, nil
}

// Sync makes every record up to seq durable. Concurrent callers share one
// fsync: whoever holds syncMu syncs everything written so far, and those
// waiting behind it usually find their record already covered.
func (s *Store) Sync(seq uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if s.failed != nil {
		defer s.mu.Unlock()
		return s.failed
	}
	if s.synced >= seq {
		s.mu.Unlock()
		return nil
	}
	f, target := s.f, s.seq
	s.mu.Unlock()

	err := f.Sync()

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed = fmt.Errorf("%w: fsync %s: %v", ErrFailed, f.Name(), err)
		return s.failed
	}
	s.synced = max(s.synced, target)
	return nil
}

// Commit appends one record and waits until it is durable.
func (s *Store) Commit(typ string, payload []byte) (uint64, error) {
	seq, err := s.Append(typ, payload)
	if err != nil {
		return 0, err
	}
	return seq, s.Sync(seq)
}

// Size is the number of journal bytes written since the last snapshot.
func (s *Store) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.older + s.size
}

// LastSeq is the last sequence number written.
func (s *Store) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Rotate syncs and closes the current segment and starts a new one. It
// returns the last sequence number in the closed segments: a snapshot of
// the state at that number lets WriteSnapshot delete them.
func (s *Store) Rotate() (uint64, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return 0, s.failed
	}
	if err := s.f.Sync(); err != nil {
		s.failed = fmt.Errorf("%w: fsync %s: %v", ErrFailed, s.f.Name(), err)
		return 0, s.failed
	}
	s.synced = s.seq
	if s.size == 0 {
		return s.seq, nil // nothing in the current segment: keep using it
	}
	if err := s.f.Close(); err != nil {
		s.failed = fmt.Errorf("%w: close %s: %v", ErrFailed, s.f.Name(), err)
		return 0, s.failed
	}
	s.older += s.size
	if err := s.newSegment(); err != nil {
		s.failed = fmt.Errorf("%w: %v", ErrFailed, err)
		return 0, s.failed
	}
	return s.seq, nil
}

type snapshotHeader struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	Seq     uint64          `json:"seq"`
	CRC32C  string          `json:"crc32c"`
	State   json.RawMessage `json:"state"`
}

const snapshotFormat = "catfish-snapshot"

// WriteSnapshot saves state as of seq: a temp file in the same directory,
// fsync, close, rename, fsync the directory. Then journal segments whose
// records are all at or before seq are deleted.
func (s *Store) WriteSnapshot(seq uint64, state []byte) error {
	// The checksum covers exactly the bytes a reader sees as "state",
	// which JSON decoding hands back without surrounding white space.
	state = bytes.TrimSpace(state)
	if !json.Valid(state) {
		return errors.New("snapshot state is not valid JSON")
	}
	head := fmt.Sprintf(`{"format":%q,"version":1,"seq":%d,"crc32c":"%08x","state":`,
		snapshotFormat, seq, crc32.Checksum(state, castagnoli))
	path := filepath.Join(s.dir, SnapshotFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	_, err = io.WriteString(f, head)
	if err == nil {
		_, err = f.Write(state)
	}
	if err == nil {
		_, err = io.WriteString(f, "}\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	return s.dropSegmentsUpTo(seq)
}

// dropSegmentsUpTo deletes segments whose records all have seq ≤ upTo.
func (s *Store) dropSegmentsUpTo(upTo uint64) error {
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cur := s.segFirst
	s.mu.Unlock()
	var freed int64
	for i, sg := range segs {
		if sg.first >= cur || i+1 >= len(segs) || segs[i+1].first-1 > upTo {
			break
		}
		freed += fileSize(sg.path)
		if err := os.Remove(sg.path); err != nil {
			return fmt.Errorf("remove compacted segment: %w", err)
		}
	}
	s.mu.Lock()
	s.older = max(0, s.older-freed)
	s.mu.Unlock()
	return syncDir(s.dir)
}

// readSnapshot loads the snapshot file. A missing file is no snapshot; a
// damaged one is an error: it is never silently replaced by empty state.
func readSnapshot(path string) (uint64, []byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read snapshot: %w", err)
	}
	var h snapshotHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return 0, nil, fmt.Errorf("snapshot %s is corrupt (%v): refusing to start rather than lose data; "+
			"restore it from a backup, or move it away to start over", path, err)
	}
	if h.Format != snapshotFormat || h.Version != 1 || len(h.State) == 0 {
		return 0, nil, fmt.Errorf("snapshot %s is not a catfish snapshot version 1: refusing to start", path)
	}
	if got := fmt.Sprintf("%08x", crc32.Checksum(h.State, castagnoli)); got != h.CRC32C {
		return 0, nil, fmt.Errorf("snapshot %s is corrupt (checksum %s, want %s): refusing to start rather than lose data; "+
			"restore it from a backup, or move it away to start over", path, got, h.CRC32C)
	}
	return h.Seq, h.State, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// Close syncs and closes the journal.
func (s *Store) Close() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if s.failed == nil {
		s.failed = errors.New("store closed")
	}
	return err
}
