package artifacts

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Errors callers classify with errors.Is.
var (
	// ErrNotFound means neither an object nor a directory exists at the key.
	ErrNotFound = errors.New("artifact not found")
	// ErrMissingCRC means OSS returned no x-oss-hash-crc64ecma header, so the transfer
	// could not be verified.
	ErrMissingCRC = errors.New("OSS response has no x-oss-hash-crc64ecma header; cannot verify the data")
	// ErrCRCMismatch means the data's CRC-64 differs from what OSS reported.
	ErrCRCMismatch = errors.New("CRC-64 mismatch: the data was corrupted in transit")
	// ErrNoProgress means a download kept failing without receiving a byte until its retry
	// budget (maxAttempts) ran out.
	ErrNoProgress = errors.New("download made no progress within the retry budget")
	// ErrTooLarge means a reply would exceed what Argo's client accepts in one message.
	ErrTooLarge = errors.New("reply too large for Argo's plugin client")
	// ErrUnsupportedFile means Save met something it cannot store faithfully (a socket,
	// a device, a broken or looping symbolic link, a name Load would refuse).
	ErrUnsupportedFile = errors.New("cannot be saved as an artifact")
)

// CRCError is a CRC-64 mismatch between what was sent or received and what OSS reported.
// It matches ErrCRCMismatch with errors.Is.
type CRCError struct {
	Key              string
	Computed, Server uint64
}

func (e *CRCError) Error() string {
	return fmt.Sprintf("%v: %s: computed %d, OSS reported %d", ErrCRCMismatch, e.Key, e.Computed, e.Server)
}

// Is makes errors.Is(err, ErrCRCMismatch) true.
func (e *CRCError) Is(target error) bool { return target == ErrCRCMismatch }

const (
	headerCRC64      = "x-oss-hash-crc64ecma"
	deleteBatch      = 1000
	listPage         = 1000
	abortTimeout     = 30 * time.Second
	maxCachedClients = 32
	readWriteTimeout = 2 * time.Minute
)

// Driver moves artifacts between local paths and OSS. It keeps one OSS client per distinct
// configuration so connections are reused across calls. The zero value needs Env set.
type Driver struct {
	// Env reads environment variables for credentials (os.LookupEnv in production).
	Env LookupEnv
	// Policy is what the administrator allows configurations to do.
	Policy Policy
	// Logger logs transfers; nil discards.
	Logger *slog.Logger
	// HTTPClient overrides the SDK's HTTP client (tests); nil uses the SDK's, with the
	// HTTP_PROXY/HTTPS_PROXY/NO_PROXY environment honoured.
	HTTPClient *http.Client
	// STSEndpoint overrides the STS endpoint RRSA credentials are fetched from (tests).
	STSEndpoint string

	mu      sync.Mutex
	buckets map[string]*Bucket
}

// Bucket is one configured bucket with its client; it implements the six artifact operations.
type Bucket struct {
	cfg      *Config
	client   *oss.Client
	log      *slog.Logger
	maxParts int
}

// Bucket returns the bucket for an artifact configuration, parsing and validating it against
// the policy and resolving credentials once per distinct configuration text.
func (d *Driver) Bucket(configuration string) (*Bucket, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b, ok := d.buckets[configuration]; ok {
		return b, nil
	}
	cfg, err := ParseConfig(configuration)
	if err != nil {
		return nil, err
	}
	if errs := d.Policy.Check(cfg, nil); len(errs) > 0 {
		return nil, configError(errs)
	}
	env := d.Env
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	provider, source, err := credentialsProvider(cfg, env, d.STSEndpoint)
	if err != nil {
		return nil, err
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sdk := oss.LoadDefaultConfig().
		WithCredentialsProvider(provider).
		WithRegion(cfg.Region).
		WithEndpoint(cfg.Endpoint).
		WithUsePathStyle(cfg.PathStyle).
		WithRetryer(retry.NewStandard(func(o *retry.RetryOptions) { o.MaxAttempts = cfg.MaxAttempts })).
		WithMaxConnections(2 * MaxParallel * 2).
		// CRC-64 is checked by this package (see transfer), with typed errors; the SDK's own
		// check reports mismatches only as text.
		WithDisableUploadCRC64Check(true).
		WithDisableDownloadCRC64Check(true).
		// OSS answers CompleteMultipartUpload only once the object is assembled; the SDK's
		// 10 s idle timeout makes it retry a Complete that is still running, and the retry
		// then fails with NoSuchUpload although the first one succeeds.
		WithReadWriteTimeout(readWriteTimeout)
	if d.HTTPClient != nil {
		sdk = sdk.WithHttpClient(d.HTTPClient)
	} else {
		sdk = sdk.WithProxyFromEnvironment(true)
	}
	b := &Bucket{cfg: cfg, client: oss.NewClient(sdk), log: log.With("bucket", cfg.Bucket, "endpoint", cfg.Endpoint), maxParts: MaxParts}
	b.log.Debug("OSS client ready", "credentials", string(source), "partSize", cfg.PartSize.Bytes, "parallel", cfg.Parallel)
	if d.buckets == nil || len(d.buckets) >= maxCachedClients {
		d.buckets = map[string]*Bucket{}
	}
	d.buckets[configuration] = b
	return b, nil
}

// Config returns the bucket's parsed configuration.
func (b *Bucket) Config() Config { return *b.cfg }

// validated returns the policy's own problems as a *badinput.Error.
func (p Policy) validated() error {
	if errs := p.Validate(field.NewPath("policy")); len(errs) > 0 {
		return configError(errs)
	}
	return nil
}

// NewDriver returns a driver for the administrator's policy, or an error naming the bad
// setting.
func NewDriver(env LookupEnv, policy Policy, logger *slog.Logger) (*Driver, error) {
	if err := policy.validated(); err != nil {
		return nil, err
	}
	return &Driver{Env: env, Policy: policy, Logger: logger}, nil
}

func isNotFound(err error) bool {
	var se *oss.ServiceError
	return errors.As(err, &se) && se.StatusCode == http.StatusNotFound
}
