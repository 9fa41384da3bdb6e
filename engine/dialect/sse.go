package dialect

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// SSEEvent is one server-sent event. Its slices point into the reader's
// buffers and are valid until the next call to Next.
type SSEEvent struct {
	Name []byte // the "event:" field, if any
	Data []byte // "data:" lines joined by '\n'
	// Comment is true for a comment-only block (": keep-alive"): no data,
	// but proof that the upstream is alive.
	Comment bool
}

// MaxEventSize bounds one event's data so a hostile upstream cannot make the
// proxy buffer without limit.
const MaxEventSize = 8 << 20

// ErrEventTooLarge ends a stream whose event outgrows MaxEventSize.
var ErrEventTooLarge = errors.New("SSE event larger than 8 MiB")

// SSEReader splits an event stream (WHATWG server-sent events) into events.
// Lines end in "\n" or "\r\n". It reuses its buffers: no allocation per
// event once they have grown to the stream's event size.
type SSEReader struct {
	r    *bufio.Reader
	data []byte
	name []byte
	line []byte // holds a line longer than the bufio buffer
}

// Reset makes the reader read from r, keeping its buffers.
func (s *SSEReader) Reset(r *bufio.Reader) { s.r = r }

// Next returns the next event. At the end of the stream it returns io.EOF;
// a last event without its closing blank line is still delivered first.
func (s *SSEReader) Next() (SSEEvent, error) {
	s.data = s.data[:0]
	s.name = s.name[:0]
	hasData, sawComment := false, false
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && hasData {
				return SSEEvent{Name: s.name, Data: s.data}, nil
			}
			return SSEEvent{}, err
		}
		if len(line) == 0 {
			if hasData {
				return SSEEvent{Name: s.name, Data: s.data}, nil
			}
			if sawComment {
				return SSEEvent{Comment: true}, nil
			}
			s.name = s.name[:0]
			continue
		}
		if line[0] == ':' {
			sawComment = true
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				s.data = append(s.data, '\n')
			}
			if len(s.data)+len(value) > MaxEventSize {
				return SSEEvent{}, ErrEventTooLarge
			}
			s.data = append(s.data, value...)
			hasData = true
		case "event":
			s.name = append(s.name[:0], value...)
		}
		// "id", "retry" and unknown fields are ignored, as the spec says.
	}
}

// Ready reports whether Next would return its event from what is
// already buffered, without reading: a blank line ends a block that holds
// a data line or a comment. A relay flushes what it wrote only when the
// next event is not ready, so events that arrived together leave
// together, and nothing waits behind a read that may block.
func (s *SSEReader) Ready() bool {
	b, _ := s.r.Peek(s.r.Buffered())
	content := false
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		line := trimEOL(b[:i+1])
		b = b[i+1:]
		switch {
		case len(line) == 0:
			if content {
				return true
			}
		case line[0] == ':':
			content = true
		default:
			field, _, _ := bytes.Cut(line, []byte(":"))
			content = content || string(field) == "data"
		}
	}
}

// readLine returns one line without its terminator. The slice is valid
// until the next call.
func (s *SSEReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.line = append(s.line[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = s.r.ReadSlice('\n')
			if len(s.line)+len(line) > MaxEventSize {
				return nil, ErrEventTooLarge
			}
			s.line = append(s.line, line...)
		}
		line = s.line
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			// A last line without a newline: deliver it, EOF comes next.
			return trimEOL(line), nil
		}
		return nil, err
	}
	return trimEOL(line), nil
}

func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// AppendEvent frames an event for the client: "event: name\n" if named,
// then "data: payload\n" per line of data, then a blank line.
func AppendEvent(dst []byte, name, data []byte) []byte {
	if len(name) > 0 {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	for {
		i := bytes.IndexByte(data, '\n')
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			break
		}
		dst = append(dst, data[:i]...)
		data = data[i+1:]
		dst = append(dst, '\n')
	}
	return append(dst, '\n', '\n')
}
