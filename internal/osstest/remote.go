package osstest

import (
	"net"
	"sync"
	"time"
)

// Remote describes how the server imitates a remote, network-bound store.
type Remote struct {
	// Off disables the emulation: raw loopback speed, no added latency.
	Off bool
	// BytesPerSecond caps each connection in each direction. Zero means 100 MB/s.
	BytesPerSecond int64
	// AggregateBytesPerSecond caps all connections together in each direction, as the one
	// network interface of a pod does. Zero means 250 MB/s (2 Gbit/s); negative means no
	// aggregate cap.
	AggregateBytesPerSecond int64
	// FirstByteLatency delays every response. Zero means 10 ms; negative means none.
	FirstByteLatency time.Duration
}

// Default remote-store figures.
const (
	DefaultBytesPerSecond          = 100 * 1000 * 1000
	DefaultAggregateBytesPerSecond = 250 * 1000 * 1000
	DefaultFirstByteLatency        = 10 * time.Millisecond
)

// AggregateRate is the cap of all connections together, 0 for none.
func (r Remote) AggregateRate() int64 {
	switch {
	case r.Off || r.AggregateBytesPerSecond < 0:
		return 0
	case r.AggregateBytesPerSecond > 0:
		return r.AggregateBytesPerSecond
	default:
		return DefaultAggregateBytesPerSecond
	}
}

func (r Remote) rate() int64 {
	switch {
	case r.Off:
		return 0
	case r.BytesPerSecond > 0:
		return r.BytesPerSecond
	default:
		return DefaultBytesPerSecond
	}
}

func (r Remote) latency() time.Duration {
	switch {
	case r.Off || r.FirstByteLatency < 0:
		return 0
	case r.FirstByteLatency > 0:
		return r.FirstByteLatency
	default:
		return DefaultFirstByteLatency
	}
}

// throttledListener caps every accepted connection at rate bytes/s per direction, and all of
// them together at the shared pacers' rate.
type throttledListener struct {
	net.Listener
	rate        int64
	read, write *sharedPacer
}

func newThrottledListener(ln net.Listener, r Remote) net.Listener {
	l := &throttledListener{Listener: ln, rate: r.rate()}
	if agg := r.AggregateRate(); agg > 0 {
		l.read, l.write = &sharedPacer{p: pacer{rate: agg}}, &sharedPacer{p: pacer{rate: agg}}
	}
	return l
}

func (l *throttledListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || (l.rate <= 0 && l.read == nil) {
		return c, err
	}
	return &throttledConn{Conn: c, rate: l.rate, sharedRead: l.read, sharedWrite: l.write}, nil
}

// sharedPacer is a pacer used by many connections at once.
type sharedPacer struct {
	mu sync.Mutex
	p  pacer
}

// wait reserves n bytes of the shared link and sleeps until they may pass.
func (s *sharedPacer) wait(n int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	now := time.Now()
	if earliest := now.Add(-paceBurst); s.p.next.Before(earliest) {
		s.p.next = earliest
	}
	s.p.next = s.p.next.Add(time.Duration(int64(n) * int64(time.Second) / s.p.rate))
	until := s.p.next
	s.mu.Unlock()
	if d := time.Until(until); d > time.Millisecond {
		time.Sleep(d)
	}
}

// pacer spaces out n-byte transfers so that they average rate bytes/s.
type pacer struct {
	rate int64
	next time.Time
}

// paceBurst is how far behind schedule a connection may fall and still catch up: a token
// bucket of 10 ms of traffic. Without it every late wake-up of a busy machine would be lost
// bandwidth, and the emulated link would run well below its cap.
const paceBurst = 10 * time.Millisecond

func (p *pacer) wait(n int) {
	now := time.Now()
	if earliest := now.Add(-paceBurst); p.next.Before(earliest) {
		p.next = earliest
	}
	p.next = p.next.Add(time.Duration(int64(n) * int64(time.Second) / p.rate))
	if d := time.Until(p.next); d > time.Millisecond {
		time.Sleep(d)
	}
}

// throttledConn paces reads and writes of one connection. A net.Conn is used by one reader
// and one writer at a time, so each direction's pacer needs no lock.
type throttledConn struct {
	net.Conn
	rate                    int64
	read, write             pacer
	sharedRead, sharedWrite *sharedPacer
}

const paceChunk = 32 << 10

func (c *throttledConn) Read(b []byte) (int, error) {
	if len(b) > paceChunk {
		b = b[:paceChunk]
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		if c.rate > 0 {
			c.read.rate = c.rate
			c.read.wait(n)
		}
		c.sharedRead.wait(n)
	}
	return n, err
}

func (c *throttledConn) Write(b []byte) (int, error) {
	written := 0
	c.write.rate = c.rate
	for len(b) > 0 {
		chunk := b
		if len(chunk) > paceChunk {
			chunk = chunk[:paceChunk]
		}
		if c.rate > 0 {
			c.write.wait(len(chunk))
		}
		c.sharedWrite.wait(len(chunk))
		n, err := c.Conn.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

// CloseWrite lets the HTTP server half-close throttled TCP connections.
func (c *throttledConn) CloseWrite() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}
