// Package osstest is an OSS-protocol test server for argo-eci's own tests and benchmarks.
//
// It puts an Alibaba Cloud OSS front over gofakes3's in-memory S3 backend. The front adds what
// OSS does and S3 does not: it verifies OSS V4 signatures (OSS4-HMAC-SHA256, and V1 signatures
// only when Options.AcceptV1 is set, for peers whose old SDK still signs with V1), maps x-oss
// headers to the backend's, sets Content-Length on zero-byte PUTs, returns x-oss-hash-crc64ecma
// on PUT, UploadPart, CompleteMultipartUpload (the combined CRC of the parts), GET and HEAD,
// serves object listings itself (URL encoding, NextMarker always set when truncated), and
// tracks open multipart uploads so tests can assert that none are left behind.
//
// Faults are injected on demand (Server.Inject): bursts of 5xx replies, connections reset in
// the middle of a body, slow responses and corrupted bytes under a correct CRC header.
//
// By default the server behaves like a remote store: every connection is capped at
// 100 MB/s in each direction and every response waits 10 ms before its first byte. On a
// loopback interface with two cores every client is otherwise CPU-bound, which hides what
// parallel transfers buy against a real, network-bound OSS. Options.Remote tunes or disables it.
package osstest
