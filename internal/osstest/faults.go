package osstest

import (
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

// Fault kinds.
const (
	// FaultStatus answers with Status (default 503) and an OSS error body, without touching
	// the backend.
	FaultStatus FaultKind = iota + 1
	// FaultReset resets the connection in the middle of the body: after half of the
	// response body for reads, after reading half of the request body for writes.
	FaultReset
	// FaultSlow waits Delay before handling the request.
	FaultSlow
	// FaultCorrupt flips one byte of the response body while every header, including
	// x-oss-hash-crc64ecma, stays correct.
	FaultCorrupt
	// FaultDropCRC serves the request normally but omits x-oss-hash-crc64ecma.
	FaultDropCRC
	// FaultWrongCRC serves the request normally but reports an x-oss-hash-crc64ecma that
	// differs from the stored data's, as a server that stored other bytes than it was sent.
	FaultWrongCRC
	// FaultCutBody sends the status line and headers of a successful reply, then resets the
	// connection before the first byte of the body: a read that makes no progress.
	FaultCutBody
	// FaultCorruptRequest flips one byte of a PutObject or UploadPart body after it arrived
	// and before it is stored, as corruption on the way would; the reply's CRC-64 is that of
	// the stored (corrupted) bytes. A request with Content-MD5 is refused with InvalidDigest,
	// as OSS refuses it.
	FaultCorruptRequest
)

// Fault is one injected fault: it applies to the next Count requests whose operation is Op
// (an OSS API name such as "PutObject", "UploadPart", "GetObject", "HeadObject",
// "CompleteMultipartUpload", "ListObjects"; empty matches every operation).
type Fault struct {
	Kind   FaultKind
	Op     string
	Count  int
	Status int
	Delay  time.Duration
}

// Inject queues faults; each applies to the next Count matching requests, in order.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		if f.Count <= 0 {
			f.Count = 1
		}
		if f.Kind == FaultStatus && f.Status == 0 {
			f.Status = 503
		}
		fc := f
		s.faults = append(s.faults, &fc)
	}
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first queued fault matching op, consuming one of its uses.
func (s *Server) takeFault(op string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		got := *f
		f.Count--
		if f.Count == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return &got
	}
	return nil
}
