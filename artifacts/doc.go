// Package artifacts is argo-eci's OSS artifact driver, served to Argo Workflows v4 as the
// artifact plugin "argo-eci-oss" (gRPC artifact.ArtifactService on a unix socket).
//
// The configuration is the artifact's plugin `configuration` YAML (see Config), written by
// workflow authors and therefore checked against the administrator's Policy: which endpoints it
// may reach, over https unless allowed, and which environment variables it may name as
// credentials.
//
// Files move with the OSS Go SDK v2's Uploader and Downloader (parallel multipart transfers,
// optional checkpoints), through a per-transfer view of the client (transfer.go) that checks
// every body's CRC-64 against OSS's reply before anything is committed, remembers the multipart
// uploads the call started so that clean-up aborts exactly those, and bounds GETs that make no
// progress. A directory is saved as a new generation and switched to with one manifest PUT
// (layout.go), so a failed re-save never damages the previous version. Delete removes exactly
// the artifact; OpenStream streams a file, or a tar archive of a directory. Retries of requests
// happen in one place, the SDK's retryer. Bucket settings are never changed.
//
// Files by concern: client.go (driver, buckets, errors), policy.go, config.go, transfer.go,
// upload.go, download.go, stream.go, objects.go (listing, deletion), layout.go (generations),
// walk.go (what a directory Save stores), keys.go (key checks), server.go (gRPC service).
package artifacts
