// Package artifacts is argo-eci's OSS artifact driver, served to Argo Workflows v4 as the
// artifact plugin "argo-eci-oss" (gRPC artifact.ArtifactService on a unix socket).
//
// The configuration is the artifact's plugin `configuration` YAML (see Config). Files move with
// the OSS Go SDK v2's Uploader and Downloader: parallel multipart transfers with a configurable
// part size and parallelism, optional checkpoints for resuming after a crash, CRC-64 verified in
// both directions (a response without a CRC header is an error, not a silent pass), and
// multipart uploads aborted when an upload fails or is cancelled. Retries happen in one place,
// the SDK's retryer. A directory is the set of objects under key + "/"; its files move through
// a bounded worker pool, Delete removes the whole prefix with batched DeleteMultipleObjects and
// OpenStream streams a tar archive of it. Bucket settings are never changed.
package artifacts
