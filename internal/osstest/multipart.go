package osstest

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// The front stages multipart uploads itself and hands the assembled object to the gofakes3
// backend on Complete. gofakes3's own uploader hashes every part under one global lock and
// copies the object twice on Complete, which made the test server, not the client, the
// bottleneck of every parallel upload.

type upload struct {
	bucket, key string
	id          string
	meta        map[string]string
	initiated   time.Time
	parts       map[int]*part
}

type part struct {
	data     []byte
	crc      uint64
	etag     string
	modified time.Time
}

// objectMeta builds the backend metadata of an object from OSS request headers.
func objectMeta(r *http.Request, now time.Time) map[string]string {
	meta := map[string]string{"Last-Modified": now.UTC().Format(http.TimeFormat)}
	for name, values := range r.Header {
		l := strings.ToLower(name)
		switch {
		case strings.HasPrefix(l, "x-oss-meta-"):
			meta["X-Amz-Meta-"+http.CanonicalHeaderKey(l[len("x-oss-meta-"):])] = values[0]
		case l == "content-type", l == "content-disposition", l == "content-encoding", l == "cache-control", l == "expires":
			meta[http.CanonicalHeaderKey(l)] = values[0]
		}
	}
	return meta
}

func newUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func encoder(r *http.Request) (func(string) string, string) {
	if r.URL.Query().Get("encoding-type") == "url" {
		return func(v string) string { return uriEncode(v, true) }, "url"
	}
	return func(v string) string { return v }, ""
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(v)
}

// readBody reads a request body of a declared length into one exactly sized buffer.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength < 0 {
		return io.ReadAll(io.LimitReader(r.Body, 5<<30))
	}
	buf := make([]byte, r.ContentLength)
	_, err := io.ReadFull(r.Body, buf)
	return buf, err
}

type corruptKey struct{}

func withCorruptBody(ctx context.Context) context.Context {
	return context.WithValue(ctx, corruptKey{}, true)
}

// receiveBody reads a PUT or UploadPart body, applies an injected corruption and checks
// Content-MD5 the way OSS does. It writes the error reply and returns false on failure.
func receiveBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "IncompleteBody", "the request body ended early")
		return nil, false
	}
	if r.Context().Value(corruptKey{}) != nil && len(body) > 0 {
		body[len(body)/2] ^= 0x01
	}
	if want := r.Header.Get("Content-MD5"); want != "" {
		sum := md5.Sum(body)
		if base64.StdEncoding.EncodeToString(sum[:]) != want {
			writeError(w, http.StatusBadRequest, "InvalidDigest", "the Content-MD5 you specified is not valid")
			return nil, false
		}
	}
	return body, true
}

// putObject stores a simple upload directly in the backend.
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	body, ok := receiveBody(w, r)
	if !ok {
		return
	}
	sum := crc64.Checksum(body, crcTable)
	if _, err := s.backend.PutObject(bucket, key, objectMeta(r, time.Now()), &sliceReader{b: body}, int64(len(body)), nil); err != nil {
		s.backendError(w, err)
		return
	}
	obj, err := s.backend.HeadObject(bucket, key)
	if err != nil {
		s.backendError(w, err)
		return
	}
	s.mu.Lock()
	s.crcs[bucket+"/"+key] = sum
	s.mu.Unlock()
	w.Header().Set("ETag", `"`+strings.ToUpper(hex.EncodeToString(obj.Hash))+`"`)
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(sum, 10))
	w.WriteHeader(http.StatusOK)
}

// sliceReader hands its slice to the backend in one Read so the backend's ReadAll makes a
// single copy.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (s *Server) backendError(w http.ResponseWriter, err error) {
	switch {
	case gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchBucket):
		writeError(w, http.StatusNotFound, "NoSuchBucket", "the specified bucket does not exist")
	case gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey):
		writeError(w, http.StatusNotFound, "NoSuchKey", "the specified key does not exist")
	default:
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
	}
}

func (s *Server) initiateMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if _, err := s.backend.BucketExists(bucket); err != nil {
		s.backendError(w, err)
		return
	}
	if ok, _ := s.backend.BucketExists(bucket); !ok {
		writeError(w, http.StatusNotFound, "NoSuchBucket", "the specified bucket does not exist")
		return
	}
	u := &upload{bucket: bucket, key: key, id: newUploadID(), meta: objectMeta(r, time.Now()), initiated: time.Now(), parts: map[int]*part{}}
	s.mu.Lock()
	s.uploads[u.id] = u
	s.mu.Unlock()
	enc, encoding := encoder(r)
	writeXML(w, struct {
		XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket       string   `xml:"Bucket"`
		Key          string   `xml:"Key"`
		UploadID     string   `xml:"UploadId"`
		EncodingType string   `xml:"EncodingType,omitempty"`
	}{Bucket: bucket, Key: enc(key), UploadID: u.id, EncodingType: encoding})
}

func (s *Server) findUpload(w http.ResponseWriter, r *http.Request, bucket, key string) *upload {
	id := r.URL.Query().Get("uploadId")
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil || u.bucket != bucket || u.key != key {
		writeError(w, http.StatusNotFound, "NoSuchUpload", "the specified upload does not exist")
		return nil
	}
	return u
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	u := s.findUpload(w, r, bucket, key)
	if u == nil {
		return
	}
	n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > s.opts.MaxParts {
		writeError(w, http.StatusBadRequest, "InvalidArgument", fmt.Sprintf("partNumber must be between 1 and %d", s.opts.MaxParts))
		return
	}
	body, ok := receiveBody(w, r)
	if !ok {
		return
	}
	sum := crc64.Checksum(body, crcTable)
	// OSS part ETags are opaque to clients; derive one from the CRC and size instead of
	// spending a second hash pass on every byte.
	etag := fmt.Sprintf(`"%016X%016X"`, sum, uint64(len(body)))
	s.mu.Lock()
	u.parts[n] = &part{data: body, crc: sum, etag: etag, modified: time.Now()}
	s.mu.Unlock()
	w.Header().Set("ETag", etag)
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(sum, 10))
	w.WriteHeader(http.StatusOK)
}

func (s *Server) completeMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	u := s.findUpload(w, r, bucket, key)
	if u == nil {
		return
	}
	var req struct {
		Parts []struct {
			PartNumber int    `xml:"PartNumber"`
			ETag       string `xml:"ETag"`
		} `xml:"Part"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err == nil {
		err = xml.Unmarshal(body, &req)
	}
	if err != nil || len(req.Parts) == 0 {
		writeError(w, http.StatusBadRequest, "MalformedXML", "the complete request must list the parts")
		return
	}
	if len(req.Parts) > s.opts.MaxParts {
		writeError(w, http.StatusBadRequest, "InvalidArgument", fmt.Sprintf("an upload has at most %d parts", s.opts.MaxParts))
		return
	}
	s.mu.Lock()
	var (
		readers []io.Reader
		size    int64
		sum     uint64
		prev    int
	)
	for i, p := range req.Parts {
		got := u.parts[p.PartNumber]
		if got == nil || strings.Trim(got.etag, `"`) != strings.Trim(p.ETag, `"`) {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "InvalidPart", fmt.Sprintf("part %d was not uploaded or its ETag differs", p.PartNumber))
			return
		}
		if p.PartNumber <= prev {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "InvalidPartOrder", "parts must be listed in ascending order")
			return
		}
		prev = p.PartNumber
		if i < len(req.Parts)-1 && int64(len(got.data)) < s.opts.MinPartSize {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "EntityTooSmall", fmt.Sprintf("part %d is smaller than the minimum part size %d", p.PartNumber, s.opts.MinPartSize))
			return
		}
		readers = append(readers, &sliceReader{b: got.data})
		size += int64(len(got.data))
		sum = CombineCRC64(sum, got.crc, int64(len(got.data)))
	}
	s.mu.Unlock()
	if _, err := s.backend.PutObject(bucket, key, u.meta, io.MultiReader(readers...), size, nil); err != nil {
		s.backendError(w, err)
		return
	}
	s.mu.Lock()
	delete(s.uploads, u.id)
	s.crcs[bucket+"/"+key] = sum
	s.mu.Unlock()
	enc, encoding := encoder(r)
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(sum, 10))
	etag := fmt.Sprintf(`"%016X-%d"`, sum, len(req.Parts))
	writeXML(w, struct {
		XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
		EncodingType string   `xml:"EncodingType,omitempty"`
		Location     string   `xml:"Location"`
		Bucket       string   `xml:"Bucket"`
		Key          string   `xml:"Key"`
		ETag         string   `xml:"ETag"`
	}{EncodingType: encoding, Location: "http://" + r.Host + "/" + bucket + "/" + uriEncode(key, false), Bucket: bucket, Key: enc(key), ETag: etag})
}

func (s *Server) abortMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	u := s.findUpload(w, r, bucket, key)
	if u == nil {
		return
	}
	s.mu.Lock()
	delete(s.uploads, u.id)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// openUploads returns the open uploads of bucket whose key starts with prefix, sorted by key
// and upload id.
func (s *Server) openUploads(bucket, prefix string) []*upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*upload
	for _, u := range s.uploads {
		if u.bucket == bucket && strings.HasPrefix(u.key, prefix) {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].key != out[j].key {
			return out[i].key < out[j].key
		}
		return out[i].id < out[j].id
	})
	return out
}

func (s *Server) listMultipartUploads(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	maxUploads := 1000
	if v := q.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "InvalidArgument", "max-uploads must be between 1 and 1000")
			return
		}
		maxUploads = n
	}
	type entry struct {
		Key       string `xml:"Key"`
		UploadID  string `xml:"UploadId"`
		Initiated string `xml:"Initiated"`
	}
	enc, encoding := encoder(r)
	res := struct {
		XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
		EncodingType       string   `xml:"EncodingType,omitempty"`
		Bucket             string   `xml:"Bucket"`
		KeyMarker          string   `xml:"KeyMarker"`
		UploadIDMarker     string   `xml:"UploadIdMarker"`
		NextKeyMarker      string   `xml:"NextKeyMarker"`
		NextUploadIDMarker string   `xml:"NextUploadIdMarker"`
		Prefix             string   `xml:"Prefix"`
		MaxUploads         int      `xml:"MaxUploads"`
		IsTruncated        bool     `xml:"IsTruncated"`
		Uploads            []entry  `xml:"Upload"`
	}{EncodingType: encoding, Bucket: bucket, KeyMarker: enc(keyMarker), UploadIDMarker: idMarker, Prefix: enc(q.Get("prefix")), MaxUploads: maxUploads}
	for _, u := range s.openUploads(bucket, q.Get("prefix")) {
		if keyMarker != "" && (u.key < keyMarker || (u.key == keyMarker && u.id <= idMarker)) {
			continue
		}
		if len(res.Uploads) == maxUploads {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, entry{Key: enc(u.key), UploadID: u.id, Initiated: u.initiated.UTC().Format("2006-01-02T15:04:05.000Z")})
		res.NextKeyMarker, res.NextUploadIDMarker = enc(u.key), u.id
	}
	writeXML(w, res)
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request, bucket, key string) {
	u := s.findUpload(w, r, bucket, key)
	if u == nil {
		return
	}
	marker, _ := strconv.Atoi(r.URL.Query().Get("part-number-marker"))
	type entry struct {
		PartNumber   int    `xml:"PartNumber"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int    `xml:"Size"`
		HashCRC64    string `xml:"HashCrc64ecma"`
	}
	enc, encoding := encoder(r)
	res := struct {
		XMLName              xml.Name `xml:"ListPartsResult"`
		EncodingType         string   `xml:"EncodingType,omitempty"`
		Bucket               string   `xml:"Bucket"`
		Key                  string   `xml:"Key"`
		UploadID             string   `xml:"UploadId"`
		PartNumberMarker     int      `xml:"PartNumberMarker"`
		NextPartNumberMarker int      `xml:"NextPartNumberMarker"`
		MaxParts             int      `xml:"MaxParts"`
		IsTruncated          bool     `xml:"IsTruncated"`
		Parts                []entry  `xml:"Part"`
	}{EncodingType: encoding, Bucket: bucket, Key: enc(key), UploadID: u.id, PartNumberMarker: marker, MaxParts: 1000}
	s.mu.Lock()
	nums := make([]int, 0, len(u.parts))
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	for _, n := range nums {
		if len(res.Parts) == res.MaxParts {
			res.IsTruncated = true
			break
		}
		p := u.parts[n]
		res.Parts = append(res.Parts, entry{PartNumber: n, LastModified: p.modified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: p.etag, Size: len(p.data), HashCRC64: strconv.FormatUint(p.crc, 10)})
		res.NextPartNumberMarker = n
	}
	s.mu.Unlock()
	writeXML(w, res)
}
