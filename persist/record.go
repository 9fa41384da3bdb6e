// Package persist keeps state on disk as a JSON snapshot plus a
// write-ahead journal of records. It is mechanism only: it knows records,
// sequence numbers, files and fsync, not what the records mean.
//
// A record on disk is a frame: 4 bytes little-endian length of the body, 4
// bytes CRC-32C (Castagnoli) of the body, then the body, a JSON object
// {"seq":N,"type":"...","payload":{...}}. The journal is a series of
// segment files named by the first sequence number they may hold; a
// snapshot holds the whole state up to a sequence number, so segments that
// end at or before it can be deleted.
//
// Concurrency: Store methods are safe for concurrent use. Appends are
// serialised by a mutex; Sync implements group commit, so concurrent
// writers share one fsync.
package persist

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
)

// Record is one journal entry.
type Record struct {
	Seq     uint64          `json:"seq"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

const (
	headerSize = 8
	// MaxRecord bounds one record's body. A length field above it is
	// corruption, never an allocation.
	MaxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors from DecodeFrame.
var (
	// ErrShort: the bytes end inside a frame (a torn write, if at the end).
	ErrShort = errors.New("truncated record")
	// ErrCorrupt: the frame is complete but wrong (length or checksum).
	ErrCorrupt = errors.New("corrupt record")
)

// AppendFrame appends r framed to dst.
func AppendFrame(dst []byte, r Record) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return dst, fmt.Errorf("encode record %d: %w", r.Seq, err)
	}
	if len(body) > MaxRecord {
		return dst, fmt.Errorf("record %d is %d bytes, over the %d limit", r.Seq, len(body), MaxRecord)
	}
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(body, castagnoli))
	dst = append(dst, h[:]...)
	return append(dst, body...), nil
}

// DecodeFrame reads one frame from the start of b. It returns the record
// and the frame's size. The length is checked against the bytes that are
// there before anything is allocated.
func DecodeFrame(b []byte) (Record, int, error) {
	if len(b) < headerSize {
		return Record{}, 0, ErrShort
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	sum := binary.LittleEndian.Uint32(b[4:8])
	if n == 0 || n > MaxRecord {
		return Record{}, 0, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	if uint64(n) > uint64(len(b)-headerSize) {
		return Record{}, 0, ErrShort
	}
	body := b[headerSize : headerSize+int(n)]
	if crc32.Checksum(body, castagnoli) != sum {
		return Record{}, 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	var r Record
	if err := json.Unmarshal(body, &r); err != nil {
		return Record{}, 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if r.Seq == 0 || r.Type == "" {
		return Record{}, 0, fmt.Errorf("%w: missing seq or type", ErrCorrupt)
	}
	return r, headerSize + int(n), nil
}

// validFrameAfter reports whether any complete, valid frame starts at or
// after off in b. It tells a torn tail (nothing valid follows) from
// corruption in the middle (good records follow a bad one).
func validFrameAfter(b []byte, off int) (int, bool) {
	for i := off; i+headerSize <= len(b); i++ {
		n := binary.LittleEndian.Uint32(b[i : i+4])
		if n == 0 || n > MaxRecord || uint64(n) > uint64(len(b)-i-headerSize) {
			continue
		}
		if _, _, err := DecodeFrame(b[i:]); err == nil {
			return i, true
		}
	}
	return 0, false
}
