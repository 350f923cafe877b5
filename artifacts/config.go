package artifacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Defaults and limits of the configuration.
const (
	DefaultPartSize    = 8 << 20
	MinPartSize        = 100 << 10 // OSS's smallest multipart part
	MaxPartSize        = 5 << 30
	DefaultParallel    = 16
	MaxParallel        = 64
	DefaultMaxAttempts = 5
	MaxMaxAttempts     = 20
)

// Config is an artifact's `configuration` (YAML). Fields follow DESIGN.md; pathStyle,
// checkpointDir and maxAttempts are additions for self-hosted OSS-compatible endpoints,
// resumable transfers and the retry budget.
type Config struct {
	// Endpoint is the OSS endpoint: "oss-cn-hangzhou-internal.aliyuncs.com" or a URL with a
	// scheme ("http://127.0.0.1:9000"). Required.
	Endpoint string `json:"endpoint"`
	// Bucket is the bucket name. Required.
	Bucket string `json:"bucket"`
	// Region is the region ID used for V4 signing, e.g. "cn-hangzhou". Derived from an
	// "oss-<region>[-internal].aliyuncs.com" endpoint when empty.
	Region string `json:"region,omitempty"`
	// Credentials names the environment variables holding an access key. Optional: without
	// it the default chain applies (see Credentials).
	Credentials *CredentialsConfig `json:"credentials,omitempty"`
	// PartSize is the multipart part size: bytes or a quantity such as "16Mi". Default 8Mi.
	PartSize Size `json:"partSize,omitempty"`
	// Parallel bounds concurrent part transfers per file and concurrent files per
	// directory. Default 16.
	Parallel int `json:"parallel,omitempty"`
	// ServerSideEncryption is "", "AES256", "KMS" or "SM4".
	ServerSideEncryption string `json:"serverSideEncryption,omitempty"`
	// StorageClass is "", "Standard", "IA", "Archive", "ColdArchive" or "DeepColdArchive".
	StorageClass string `json:"storageClass,omitempty"`
	// PathStyle addresses the bucket in the path instead of the host name.
	PathStyle bool `json:"pathStyle,omitempty"`
	// CheckpointDir enables resumable transfers: a transfer interrupted by a crash resumes
	// from its checkpoint on the next call. Empty disables checkpoints.
	CheckpointDir string `json:"checkpointDir,omitempty"`
	// MaxAttempts is the SDK retryer's attempt budget per request. Default 5.
	MaxAttempts int `json:"maxAttempts,omitempty"`
}

// CredentialsConfig names the environment variables that hold an access key pair.
type CredentialsConfig struct {
	AccessKeyIDEnv     string `json:"accessKeyIdEnv"`
	AccessKeySecretEnv string `json:"accessKeySecretEnv"`
	// SessionTokenEnv optionally names the variable holding an STS token.
	SessionTokenEnv string `json:"sessionTokenEnv,omitempty"`
}

const errNotASize = "is not a size (want a whole number of bytes or a quantity like 16Mi)"

// Size is a byte count given as an integer or a Kubernetes quantity ("16Mi").
type Size int64

// UnmarshalJSON accepts a number or a quantity string.
func (s *Size) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		q, err := resource.ParseQuantity(str)
		if err != nil {
			return fmt.Errorf("%q %s", str, errNotASize)
		}
		v, ok := q.AsInt64()
		if !ok {
			return fmt.Errorf("%q %s", str, errNotASize)
		}
		*s = Size(v)
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("%s %s", b, errNotASize)
	}
	*s = Size(v)
	return nil
}

// ConfigError is an invalid configuration: Field is its path ("partSize",
// "credentials.accessKeyIdEnv") and Reason says what was expected.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "configuration: " + e.Reason
	}
	return "configuration: " + e.Field + ": " + e.Reason
}

var (
	bucketRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	regionRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	endpointRE    = regexp.MustCompile(`^oss-([a-z0-9-]+?)(-internal)?\.aliyuncs\.com$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	unknownField  = regexp.MustCompile(`unknown field "([^"]*)"`)
	typeMismatch  = regexp.MustCompile(`Go struct field [A-Za-z]+\.([A-Za-z.]+) of type`)
	sizeFieldFail = regexp.MustCompile(`into Go struct field [A-Za-z]+\.([A-Za-z.]+)`)
)

var storageClasses = map[string]bool{"": true, "Standard": true, "IA": true, "Archive": true, "ColdArchive": true, "DeepColdArchive": true}
var encryptions = map[string]bool{"": true, "AES256": true, "KMS": true, "SM4": true}

// ParseConfig parses an artifact's configuration strictly: unknown fields, wrong types and bad
// values are errors (*ConfigError) naming the field. Defaults are filled in.
func ParseConfig(text string) (*Config, error) {
	if strings.TrimSpace(text) == "" {
		return nil, &ConfigError{Reason: "empty; need at least endpoint and bucket"}
	}
	var c Config
	if err := yaml.UnmarshalStrict([]byte(text), &c); err != nil {
		return nil, decodeError(err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeError turns a YAML/JSON decoding error into a ConfigError naming the field.
func decodeError(err error) error {
	msg := err.Error()
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		return &ConfigError{Field: m[1], Reason: "unknown field (known: endpoint, bucket, region, credentials, partSize, parallel, serverSideEncryption, storageClass, pathStyle, checkpointDir, maxAttempts)"}
	}
	if strings.Contains(msg, errNotASize) {
		return &ConfigError{Field: "partSize", Reason: lastClause(msg)}
	}
	field := ""
	if m := typeMismatch.FindStringSubmatch(msg); m != nil {
		field = m[1]
	} else if m := sizeFieldFail.FindStringSubmatch(msg); m != nil {
		field = m[1]
	}
	if field != "" {
		return &ConfigError{Field: jsonFieldName(field), Reason: "wrong type: " + lastClause(msg)}
	}
	return &ConfigError{Reason: "not valid YAML: " + lastClause(msg)}
}

func lastClause(msg string) string {
	if i := strings.LastIndex(msg, "JSON: "); i >= 0 {
		msg = msg[i+len("JSON: "):]
	}
	if i := strings.LastIndex(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
}

// jsonFieldName maps a Go field path ("Credentials.AccessKeyIDEnv") to the YAML name.
func jsonFieldName(goPath string) string {
	names := map[string]string{
		"Endpoint": "endpoint", "Bucket": "bucket", "Region": "region", "Credentials": "credentials",
		"PartSize": "partSize", "Parallel": "parallel", "ServerSideEncryption": "serverSideEncryption",
		"StorageClass": "storageClass", "PathStyle": "pathStyle", "CheckpointDir": "checkpointDir",
		"MaxAttempts": "maxAttempts", "AccessKeyIDEnv": "accessKeyIdEnv",
		"AccessKeySecretEnv": "accessKeySecretEnv", "SessionTokenEnv": "sessionTokenEnv",
	}
	parts := strings.Split(goPath, ".")
	for i, p := range parts {
		if n, ok := names[p]; ok {
			parts[i] = n
		}
	}
	return strings.Join(parts, ".")
}

func (c *Config) validate() error {
	if c.Endpoint == "" {
		return &ConfigError{Field: "endpoint", Reason: "required (e.g. oss-cn-hangzhou-internal.aliyuncs.com)"}
	}
	host := c.Endpoint
	if strings.Contains(c.Endpoint, "://") {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return &ConfigError{Field: "endpoint", Reason: "want host[:port] or http(s)://host[:port] with no path, query or user info"}
		}
		host = u.Hostname()
	} else if strings.ContainsAny(c.Endpoint, "/?#@ ") {
		return &ConfigError{Field: "endpoint", Reason: "want host[:port] or http(s)://host[:port]"}
	}
	if c.Bucket == "" {
		return &ConfigError{Field: "bucket", Reason: "required"}
	}
	if !bucketRE.MatchString(c.Bucket) {
		return &ConfigError{Field: "bucket", Reason: "want 3-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen"}
	}
	if c.Region == "" {
		if m := endpointRE.FindStringSubmatch(host); m != nil {
			c.Region = m[1]
		} else {
			return &ConfigError{Field: "region", Reason: "required when the endpoint is not oss-<region>.aliyuncs.com (V4 signatures are scoped to a region)"}
		}
	}
	if !regionRE.MatchString(c.Region) {
		return &ConfigError{Field: "region", Reason: "want a region ID such as cn-hangzhou"}
	}
	if cr := c.Credentials; cr != nil {
		if cr.AccessKeyIDEnv == "" || cr.AccessKeySecretEnv == "" {
			return &ConfigError{Field: "credentials", Reason: "accessKeyIdEnv and accessKeySecretEnv must both be set"}
		}
		for field, name := range map[string]string{"credentials.accessKeyIdEnv": cr.AccessKeyIDEnv, "credentials.accessKeySecretEnv": cr.AccessKeySecretEnv, "credentials.sessionTokenEnv": cr.SessionTokenEnv} {
			if name != "" && !envNameRE.MatchString(name) {
				return &ConfigError{Field: field, Reason: "want an environment variable name"}
			}
		}
	}
	switch {
	case c.PartSize == 0:
		c.PartSize = DefaultPartSize
	case c.PartSize < MinPartSize || c.PartSize > MaxPartSize:
		return &ConfigError{Field: "partSize", Reason: "want between 100Ki and 5Gi"}
	}
	switch {
	case c.Parallel == 0:
		c.Parallel = DefaultParallel
	case c.Parallel < 1 || c.Parallel > MaxParallel:
		return &ConfigError{Field: "parallel", Reason: fmt.Sprintf("want between 1 and %d", MaxParallel)}
	}
	switch {
	case c.MaxAttempts == 0:
		c.MaxAttempts = DefaultMaxAttempts
	case c.MaxAttempts < 1 || c.MaxAttempts > MaxMaxAttempts:
		return &ConfigError{Field: "maxAttempts", Reason: fmt.Sprintf("want between 1 and %d", MaxMaxAttempts)}
	}
	if !encryptions[c.ServerSideEncryption] {
		return &ConfigError{Field: "serverSideEncryption", Reason: "want AES256, KMS or SM4"}
	}
	if !storageClasses[c.StorageClass] {
		return &ConfigError{Field: "storageClass", Reason: "want Standard, IA, Archive, ColdArchive or DeepColdArchive"}
	}
	if c.CheckpointDir != "" && !strings.HasPrefix(c.CheckpointDir, "/") {
		return &ConfigError{Field: "checkpointDir", Reason: "want an absolute path"}
	}
	return nil
}

// IsConfigError reports whether err is an invalid configuration.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}
