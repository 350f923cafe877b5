package osstest

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Options configure a Server. The zero value is usable: credentials "test-access-key-id" /
// "test-access-key-secret", region cn-hangzhou, one bucket "test-bucket", remote-store
// emulation on with its defaults.
type Options struct {
	AccessKeyID     string
	AccessKeySecret string
	Region          string
	// Buckets are created at start.
	Buckets []string
	// AcceptV1 also accepts V1 (HMAC-SHA1 "OSS AK:SIG") signatures. Off by default: OSS
	// deprecates V1, but Argo's built-in OSS driver (old SDK) still signs with it.
	AcceptV1 bool
	// Remote tunes the remote-store emulation.
	Remote Remote
	// Logger receives one line per rejected request; nil discards.
	Logger *slog.Logger
	// MaxParts is the most parts a multipart upload may have; zero means OSS's 10,000.
	MaxParts int
	// MinPartSize is the smallest part but the last that Complete accepts; zero means OSS's
	// 100 KiB.
	MinPartSize int64
}

// OSS's multipart limits.
const (
	DefaultMaxParts    = 10000
	DefaultMinPartSize = 100 << 10
)

// Default credentials, region and bucket.
const (
	DefaultAccessKeyID     = "test-access-key-id"
	DefaultAccessKeySecret = "test-access-key-secret"
	DefaultRegion          = "cn-hangzhou"
	DefaultBucket          = "test-bucket"
)

// Server is a running OSS-protocol test server on 127.0.0.1.
type Server struct {
	// URL is the endpoint, "http://127.0.0.1:PORT".
	URL string

	opts     Options
	backend  *s3mem.Backend
	fake     http.Handler
	verifier verifier
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}

	mu      sync.Mutex
	crcs    map[string]uint64  // bucket/key -> CRC-64 of the object
	uploads map[string]*upload // open multipart uploads by id
	faults  []*Fault
	counts  map[string]int
}

// Start starts a server with opts on a free port of 127.0.0.1.
func Start(opts Options) (*Server, error) {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = DefaultAccessKeyID
	}
	if opts.AccessKeySecret == "" {
		opts.AccessKeySecret = DefaultAccessKeySecret
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if len(opts.Buckets) == 0 {
		opts.Buckets = []string{DefaultBucket}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxParts == 0 {
		opts.MaxParts = DefaultMaxParts
	}
	if opts.MinPartSize == 0 {
		opts.MinPartSize = DefaultMinPartSize
	}
	backend := s3mem.New()
	for _, b := range opts.Buckets {
		if err := backend.CreateBucket(b); err != nil {
			return nil, fmt.Errorf("create bucket %q: %w", b, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		URL:     "http://" + ln.Addr().String(),
		opts:    opts,
		backend: backend,
		fake:    gofakes3.New(backend, gofakes3.WithoutVersioning(), gofakes3.WithIntegrityCheck(true)).Server(),
		verifier: verifier{
			accessKeyID: opts.AccessKeyID, secret: opts.AccessKeySecret, region: opts.Region,
			acceptV1: opts.AcceptV1, now: time.Now,
		},
		ln:      ln,
		done:    make(chan struct{}),
		crcs:    map[string]uint64{},
		uploads: map[string]*upload{},
		counts:  map[string]int{},
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(newThrottledListener(ln, opts.Remote))
	}()
	return s, nil
}

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Region returns the server's signing region.
func (s *Server) Region() string { return s.opts.Region }

// AccessKeyID returns the access key id the server accepts.
func (s *Server) AccessKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verifier.accessKeyID
}

// AccessKeySecret returns the secret the server verifies signatures with.
func (s *Server) AccessKeySecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verifier.secret
}

// SetCredentials replaces the access key the server accepts, as when temporary credentials
// expire: requests signed with the previous key are rejected from now on.
func (s *Server) SetCredentials(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verifier.accessKeyID, s.verifier.secret = id, secret
}

// AddCredentials makes the server accept one more access key, as temporary credentials
// issued while the previous ones are still valid.
func (s *Server) AddCredentials(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	more := map[string]string{id: secret}
	for k, v := range s.verifier.more {
		more[k] = v
	}
	s.verifier.more = more
}

// RevokeCredentials stops accepting the access key id, as when temporary credentials expire.
func (s *Server) RevokeCredentials(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	more := map[string]string{}
	for k, v := range s.verifier.more {
		if k != id {
			more[k] = v
		}
	}
	s.verifier.more = more
	if s.verifier.accessKeyID == id {
		s.verifier.accessKeyID, s.verifier.secret = "", ""
	}
}

// PutObject stores data at bucket/key directly, as another client would have.
func (s *Server) PutObject(bucket, key string, data []byte) error {
	if _, err := s.backend.PutObject(bucket, key, map[string]string{}, &sliceReader{b: data}, int64(len(data)), nil); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crcs[bucket+"/"+key] = CRC64(data)
	return nil
}

// Requests returns how many requests of operation op the server has received (authenticated
// or not).
func (s *Server) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

// ResetCounts zeroes the request counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
}

// Object returns the stored bytes of bucket/key.
func (s *Server) Object(bucket, key string) ([]byte, error) {
	obj, err := s.backend.GetObject(bucket, key, nil)
	if err != nil {
		return nil, err
	}
	defer obj.Contents.Close()
	return io.ReadAll(obj.Contents)
}

// Keys lists every key of bucket under prefix.
func (s *Server) Keys(bucket, prefix string) ([]string, error) {
	list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{HasPrefix: prefix != "", Prefix: prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(list.Contents))
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys, nil
}

// OpenUploads lists the multipart uploads of bucket that were neither completed nor aborted,
// as "key uploadId" strings.
func (s *Server) OpenUploads(bucket string) ([]string, error) {
	var res []string
	for _, u := range s.openUploads(bucket, "") {
		res = append(res, u.key+" "+u.id)
	}
	return res, nil
}

// operation names the OSS API a request calls.
func operation(r *http.Request, bucket, key string) string {
	q := r.URL.Query()
	_, uploads := q["uploads"]
	_, uploadID := q["uploadId"]
	_, del := q["delete"]
	switch {
	case bucket == "":
		return "ListBuckets"
	case key == "" && r.Method == http.MethodGet && uploads:
		return "ListMultipartUploads"
	case key == "" && r.Method == http.MethodGet && q.Get("list-type") == "2":
		return "ListObjectsV2"
	case key == "" && r.Method == http.MethodGet && len(q) > 0 && !hasAny(q, "prefix", "marker", "max-keys", "delimiter", "encoding-type"):
		return "GetBucketSubresource"
	case key == "" && r.Method == http.MethodGet:
		return "ListObjects"
	case key == "" && r.Method == http.MethodPost && del:
		return "DeleteMultipleObjects"
	case key == "":
		return r.Method + "Bucket"
	case r.Method == http.MethodPost && uploads:
		return "InitiateMultipartUpload"
	case r.Method == http.MethodPut && uploadID:
		return "UploadPart"
	case r.Method == http.MethodPost && uploadID:
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && uploadID:
		return "AbortMultipartUpload"
	case r.Method == http.MethodGet && uploadID:
		return "ListParts"
	case r.Method == http.MethodPut && r.Header.Get("x-oss-copy-source") != "":
		return "CopyObject"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodGet:
		return "GetObject"
	case r.Method == http.MethodHead:
		return "HeadObject"
	case r.Method == http.MethodDelete:
		return "DeleteObject"
	}
	return r.Method + "Object"
}

func hasAny(q map[string][]string, names ...string) bool {
	for _, n := range names {
		if _, ok := q[n]; ok {
			return true
		}
	}
	return false
}

// writeError writes an OSS error document.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-oss-ec", code)
	w.WriteHeader(status)
	type ossError struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
		HostID    string   `xml:"HostId"`
	}
	_ = xml.NewEncoder(w).Encode(ossError{Code: code, Message: message, RequestID: strconv.FormatInt(time.Now().UnixNano(), 16), HostID: "osstest"})
}

// ServeHTTP is the OSS front.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	op := operation(r, bucket, key)
	s.mu.Lock()
	s.counts[op]++
	s.mu.Unlock()

	if d := s.opts.Remote.latency(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	v := s.verifier
	s.mu.Unlock()
	if err := v.verify(r, bucket, key); err != nil {
		var ae *AuthError
		errors.As(err, &ae)
		s.opts.Logger.Info("request rejected", "op", op, "code", ae.Code, "reason", ae.Message)
		writeError(w, http.StatusForbidden, ae.Code, ae.Message)
		return
	}

	rw := &respWriter{ResponseWriter: w, resetAfter: -1}
	fault := s.takeFault(op)
	if fault != nil {
		switch fault.Kind {
		case FaultStatus:
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
			code := "InternalError"
			if fault.Status == http.StatusServiceUnavailable {
				code = "ServiceUnavailable"
			}
			writeError(w, fault.Status, code, "injected fault")
			return
		case FaultSlow:
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		case FaultCorrupt:
			rw.corrupt = true
		case FaultDropCRC:
			rw.dropCRC = true
		case FaultWrongCRC:
			rw.wrongCRC = true
		case FaultCutBody:
			rw.cut = true
		case FaultCorruptRequest:
			r = r.WithContext(withCorruptBody(r.Context()))
		case FaultReset:
			if r.Method == http.MethodPut || r.Method == http.MethodPost {
				n := r.ContentLength / 2
				_, _ = io.CopyN(io.Discard, r.Body, n)
				resetConn(w, false)
				return
			}
			rw.resetAfter = 0 // decided once the length is known
		}
	}
	s.mapRequestHeaders(r)
	s.dispatch(rw, r, op, bucket, key)
	rw.finish()
}

// mapRequestHeaders turns OSS request headers into the S3 ones gofakes3 understands.
func (s *Server) mapRequestHeaders(r *http.Request) {
	for name, values := range r.Header {
		l := strings.ToLower(name)
		switch {
		case strings.HasPrefix(l, "x-oss-meta-"):
			r.Header["X-Amz-Meta-"+http.CanonicalHeaderKey(l[len("x-oss-meta-"):])] = values
		case l == "x-oss-copy-source":
			r.Header["X-Amz-Copy-Source"] = values
		}
	}
	if r.Method == http.MethodPut && r.Header.Get("Content-Length") == "" && r.ContentLength >= 0 {
		r.Header.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
}

func (s *Server) dispatch(rw *respWriter, r *http.Request, op, bucket, key string) {
	objKey := bucket + "/" + key
	switch op {
	case "ListObjects", "ListObjectsV2":
		s.listObjects(rw, r, bucket, op == "ListObjectsV2")
		return
	case "DeleteMultipleObjects":
		s.deleteMultiple(rw, r, bucket)
		return
	case "PutObject":
		s.putObject(rw, r, bucket, key)
		return
	case "InitiateMultipartUpload":
		s.initiateMultipart(rw, r, bucket, key)
		return
	case "UploadPart":
		s.uploadPart(rw, r, bucket, key)
		return
	case "CompleteMultipartUpload":
		s.completeMultipart(rw, r, bucket, key)
		return
	case "AbortMultipartUpload":
		s.abortMultipart(rw, r, bucket, key)
		return
	case "ListMultipartUploads":
		s.listMultipartUploads(rw, r, bucket)
		return
	case "ListParts":
		s.listParts(rw, r, bucket, key)
		return
	case "CopyObject":
		src := r.Header.Get("x-oss-copy-source")
		rw.before = func(hdr http.Header, status int) {
			if status != http.StatusOK {
				return
			}
			srcKey := strings.TrimPrefix(src, "/")
			if dec, err := urlUnescape(srcKey); err == nil {
				srcKey = dec
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if c, ok := s.crcs[srcKey]; ok {
				s.crcs[objKey] = c
				hdr.Set("x-oss-hash-crc64ecma", strconv.FormatUint(c, 10))
			}
		}
	case "GetObject", "HeadObject":
		s.mu.Lock()
		c, ok := s.crcs[objKey]
		s.mu.Unlock()
		if ok && !rw.dropCRC {
			rw.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(c, 10))
		}
	case "DeleteObject":
		rw.before = func(_ http.Header, status int) {
			if status/100 == 2 {
				s.mu.Lock()
				defer s.mu.Unlock()
				delete(s.crcs, objKey)
			}
		}
	}
	s.fake.ServeHTTP(rw, r)
}

// respWriter maps response headers to OSS names, runs a hook just before the status line goes
// out and applies body faults.
type respWriter struct {
	http.ResponseWriter
	before      func(http.Header, int)
	wroteHeader bool
	status      int
	written     int64
	corrupt     bool
	dropCRC     bool
	wrongCRC    bool
	cut         bool  // reset right after the headers, before any body byte
	resetAfter  int64 // -1: no reset; otherwise reset once this many body bytes are out
	reset       bool
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *respWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.status = status
	hdr := w.Header()
	for name, values := range hdr {
		l := strings.ToLower(name)
		switch {
		case strings.HasPrefix(l, "x-amz-meta-"):
			hdr["X-Oss-Meta-"+http.CanonicalHeaderKey(l[len("x-amz-meta-"):])] = values
			delete(hdr, name)
		case l == "x-amz-request-id":
			hdr.Set("x-oss-request-id", values[0])
			delete(hdr, name)
		case strings.HasPrefix(l, "x-amz-"):
			delete(hdr, name)
		}
	}
	hdr.Set("Server", "AliyunOSS")
	if w.before != nil {
		w.before(hdr, status)
	}
	if w.dropCRC {
		hdr.Del("x-oss-hash-crc64ecma")
	}
	if v := hdr.Get("x-oss-hash-crc64ecma"); w.wrongCRC && v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		hdr.Set("x-oss-hash-crc64ecma", strconv.FormatUint(n^1, 10))
	}
	if w.resetAfter == 0 {
		if n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64); err == nil && n > 1 {
			w.resetAfter = n / 2
		} else {
			w.resetAfter = 1
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.reset {
		return 0, errors.New("connection reset by fault injection")
	}
	if w.cut && w.status/100 == 2 {
		w.reset = true
		resetConn(w.ResponseWriter, true)
		return 0, errors.New("connection reset by fault injection")
	}
	if w.corrupt && len(p) > 0 && w.status/100 == 2 {
		q := make([]byte, len(p))
		copy(q, p)
		q[0] ^= 0xff
		p = q
		w.corrupt = false
	}
	if w.resetAfter > 0 && w.written+int64(len(p)) >= w.resetAfter {
		n, _ := w.ResponseWriter.Write(p[:w.resetAfter-w.written])
		w.written += int64(n)
		w.reset = true
		resetConn(w.ResponseWriter, true)
		return n, errors.New("connection reset by fault injection")
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// finish sends the status line if the handler wrote nothing, so hooks always run.
func (w *respWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
}

// resetConn closes the connection with a TCP RST; with flush it first sends what the handler
// wrote (a partial body), without it the client sees no response at all.
func resetConn(w http.ResponseWriter, flush bool) {
	rc := http.NewResponseController(w)
	if flush {
		_ = rc.Flush()
	}
	conn, buf, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if flush {
		_ = buf.Flush()
	}
	var raw net.Conn = conn
	if tc, ok := raw.(*throttledConn); ok {
		raw = tc.Conn
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func urlUnescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// listObjects serves ListObjects (V1) and ListObjectsV2 from the backend, with OSS's URL
// encoding and NextMarker always present when truncated.
func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, bucket string, v2 bool) {
	q := r.URL.Query()
	maxKeys := 100
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			writeError(w, http.StatusBadRequest, "InvalidArgument", "max-keys must be an integer between 0 and 1000")
			return
		}
		maxKeys = n
	}
	prefix := gofakes3.Prefix{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter")}
	prefix.HasPrefix = prefix.Prefix != ""
	prefix.HasDelimiter = prefix.Delimiter != ""
	page := gofakes3.ListBucketPage{MaxKeys: int64(maxKeys)}
	marker := q.Get("marker")
	if v2 {
		marker = q.Get("start-after")
		if tok := q.Get("continuation-token"); tok != "" {
			b, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				writeError(w, http.StatusBadRequest, "InvalidArgument", "bad continuation-token")
				return
			}
			marker = string(b)
		}
	}
	if marker != "" {
		page.Marker, page.HasMarker = marker, true
	}
	if maxKeys == 0 {
		page.MaxKeys = 0
	}
	list, err := s.backend.ListBucket(bucket, &prefix, page)
	if err != nil {
		if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchBucket) {
			writeError(w, http.StatusNotFound, "NoSuchBucket", "the specified bucket does not exist")
			return
		}
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	enc := func(v string) string { return v }
	encoding := ""
	if q.Get("encoding-type") == "url" {
		enc = func(v string) string { return uriEncode(v, true) }
		encoding = "url"
	}
	type content struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Type         string `xml:"Type"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	}
	type commonPrefix struct {
		Prefix string `xml:"Prefix"`
	}
	type result struct {
		XMLName               xml.Name       `xml:"ListBucketResult"`
		Name                  string         `xml:"Name"`
		Prefix                string         `xml:"Prefix"`
		Marker                *string        `xml:"Marker,omitempty"`
		StartAfter            *string        `xml:"StartAfter,omitempty"`
		ContinuationToken     *string        `xml:"ContinuationToken,omitempty"`
		MaxKeys               int            `xml:"MaxKeys"`
		Delimiter             string         `xml:"Delimiter"`
		EncodingType          string         `xml:"EncodingType,omitempty"`
		IsTruncated           bool           `xml:"IsTruncated"`
		NextMarker            *string        `xml:"NextMarker,omitempty"`
		NextContinuationToken *string        `xml:"NextContinuationToken,omitempty"`
		KeyCount              *int           `xml:"KeyCount,omitempty"`
		Contents              []content      `xml:"Contents"`
		CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
	}
	res := result{
		Name: bucket, Prefix: enc(prefix.Prefix), MaxKeys: maxKeys, Delimiter: enc(prefix.Delimiter),
		EncodingType: encoding, IsTruncated: list.IsTruncated,
	}
	last := ""
	for _, c := range list.Contents {
		res.Contents = append(res.Contents, content{
			Key: enc(c.Key), LastModified: c.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: c.ETag, Type: "Normal", Size: c.Size, StorageClass: "Standard",
		})
		last = c.Key
	}
	for _, p := range list.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(p.Prefix)})
		if p.Prefix > last {
			last = p.Prefix
		}
	}
	if list.NextMarker != "" && list.NextMarker > last {
		last = list.NextMarker
	}
	if v2 {
		n := len(res.Contents) + len(res.CommonPrefixes)
		res.KeyCount = &n
		if sa := q.Get("start-after"); sa != "" {
			v := enc(sa)
			res.StartAfter = &v
		}
		if tok := q.Get("continuation-token"); tok != "" {
			res.ContinuationToken = &tok
		}
		if list.IsTruncated {
			tok := base64.RawURLEncoding.EncodeToString([]byte(last))
			res.NextContinuationToken = &tok
		}
	} else {
		m := enc(marker)
		res.Marker = &m
		if list.IsTruncated {
			nm := enc(last)
			res.NextMarker = &nm
		}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(res)
}

// deleteMultiple serves DeleteMultipleObjects (quiet or verbose, with URL encoding).
func (s *Server) deleteMultiple(w http.ResponseWriter, r *http.Request, bucket string) {
	var req struct {
		Quiet   bool `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err == nil {
		err = xml.Unmarshal(body, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "MalformedXML", "the delete request body is not valid XML")
		return
	}
	if len(req.Objects) > 1000 {
		writeError(w, http.StatusBadRequest, "MalformedXML", "at most 1000 objects per delete request")
		return
	}
	keys := make([]string, len(req.Objects))
	for i, o := range req.Objects {
		keys[i] = o.Key
	}
	if _, err := s.backend.DeleteMulti(bucket, keys...); err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	s.mu.Lock()
	for _, k := range keys {
		delete(s.crcs, bucket+"/"+k)
	}
	s.mu.Unlock()
	enc := func(v string) string { return v }
	encoding := ""
	if r.URL.Query().Get("encoding-type") == "url" {
		enc = func(v string) string { return uriEncode(v, true) }
		encoding = "url"
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	out := struct {
		XMLName      xml.Name  `xml:"DeleteResult"`
		EncodingType string    `xml:"EncodingType,omitempty"`
		Deleted      []deleted `xml:"Deleted"`
	}{EncodingType: encoding}
	if !req.Quiet {
		for _, k := range keys {
			out.Deleted = append(out.Deleted, deleted{Key: enc(k)})
		}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_ = xml.NewEncoder(w).Encode(out)
}

// Serve runs a server with opts until ctx is done; it is what a benchmark's child process
// runs. ready receives the URL once the server listens.
func Serve(ctx context.Context, opts Options, ready func(url string)) error {
	s, err := Start(opts)
	if err != nil {
		return err
	}
	ready(s.URL)
	<-ctx.Done()
	return s.Close()
}
