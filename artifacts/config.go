package artifacts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
)

// Defaults and limits of the configuration.
const (
	DefaultPartSize    = 8 << 20
	MinPartSize        = 100 << 10 // OSS's smallest multipart part (all but the last)
	MaxPartSize        = 5 << 30
	DefaultParallel    = 16
	MaxParallel        = 64
	DefaultMaxAttempts = 5
	MaxMaxAttempts     = 20
	// MaxParts is OSS's limit on the parts of one multipart upload.
	MaxParts = 10000
)

// Config is an artifact's `configuration` (YAML), written by workflow authors and therefore
// untrusted: what it may reach and read is further limited by the administrator's Policy.
type Config struct {
	// Endpoint is the OSS endpoint: "oss-cn-hangzhou-internal.aliyuncs.com" (https) or a URL
	// with a scheme ("https://oss-cn-hangzhou.aliyuncs.com"). Required.
	Endpoint string `json:"endpoint"`
	// Bucket is the bucket name. Required.
	Bucket string `json:"bucket"`
	// Region is the region ID used for V4 signing, e.g. "cn-hangzhou". Derived from an
	// "oss-<region>[-internal].aliyuncs.com" endpoint when empty.
	Region string `json:"region,omitempty"`
	// Credentials names the environment variables holding an access key. Optional: without
	// it the default chain applies.
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
	// CheckpointDir enables resumable transfers: a transfer interrupted by a crash of the
	// plugin resumes from its checkpoint on the next call that sees the same directory.
	CheckpointDir string `json:"checkpointDir,omitempty"`
	// MaxAttempts is the retry budget per request, and per range of a download that makes no
	// progress. Default 5.
	MaxAttempts int `json:"maxAttempts,omitempty"`
}

// CredentialsConfig names the environment variables that hold an access key pair.
type CredentialsConfig struct {
	AccessKeyIDEnv     string `json:"accessKeyIdEnv"`
	AccessKeySecretEnv string `json:"accessKeySecretEnv"`
	// SessionTokenEnv optionally names the variable holding an STS token.
	SessionTokenEnv string `json:"sessionTokenEnv,omitempty"`
}

// Size is a byte count given as an integer or a Kubernetes quantity ("16Mi"). Decoding never
// fails; a value that is not a size is kept and reported by Config.Validate with its field.
type Size struct {
	// Bytes is the decoded size.
	Bytes int64
	bad   string
}

// Int64 returns the size in bytes.
func (s Size) Int64() int64 { return s.Bytes }

// UnmarshalJSON accepts a number or a quantity string.
func (s *Size) UnmarshalJSON(b []byte) error {
	*s = Size{}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			s.bad = string(b)
			return nil
		}
		if q, err := resource.ParseQuantity(text); err == nil {
			if v, ok := q.AsInt64(); ok {
				s.Bytes = v
				return nil
			}
		}
		s.bad = text
		return nil
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		s.bad = text
		return nil
	}
	s.Bytes = v
	return nil
}

// String prints the byte count.
func (s Size) String() string { return strconv.FormatInt(s.Bytes, 10) }

// MarshalJSON writes the byte count.
func (s Size) MarshalJSON() ([]byte, error) { return []byte(strconv.FormatInt(s.Bytes, 10)), nil }

// configError is an invalid configuration: a *badinput.Error listing every problem with the
// field it concerns and what was expected.
func configError(errs field.ErrorList) *badinput.Error {
	return &badinput.Error{Input: "configuration", Errs: errs}
}

// rootError is a problem with the configuration as a whole.
func rootError(t field.ErrorType, detail string) *field.Error {
	return &field.Error{Type: t, BadValue: field.OmitValueType{}, Detail: detail}
}

var (
	bucketRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	regionRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	endpointRE = regexp.MustCompile(`^oss-([a-z0-9-]+?)(-internal)?\.aliyuncs\.com$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

var storageClasses = map[string]bool{"": true, "Standard": true, "IA": true, "Archive": true, "ColdArchive": true, "DeepColdArchive": true}
var encryptions = map[string]bool{"": true, "AES256": true, "KMS": true, "SM4": true}

// ParseConfig decodes an artifact's configuration strictly (unknown and duplicate fields and
// wrong types are errors), validates it and fills in defaults. Errors are *badinput.Error.
func ParseConfig(text string) (*Config, error) {
	if strings.TrimSpace(text) == "" {
		return nil, configError(field.ErrorList{rootError(field.ErrorTypeRequired, "the configuration is empty; need at least endpoint and bucket")})
	}
	var c Config
	if errs := badinput.DecodeYAML([]byte(text), &c, nil); len(errs) > 0 {
		return nil, configError(errs)
	}
	if errs := c.Validate(nil); len(errs) > 0 {
		return nil, configError(errs)
	}
	c.defaults()
	return &c, nil
}

func child(p *field.Path, name string) *field.Path {
	if p == nil {
		return field.NewPath(name)
	}
	return p.Child(name)
}

// endpointHost returns the host name and scheme of an endpoint ("https" without one).
func endpointHost(endpoint string) (host, scheme string, ok bool) {
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?#@ \t\r\n") || endpoint == "" {
			return "", "", false
		}
		u, err := url.Parse("https://" + endpoint)
		if err != nil || u.Hostname() == "" {
			return "", "", false
		}
		return strings.ToLower(u.Hostname()), "https", true
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(endpoint, " \t\r\n") {
		return "", "", false
	}
	return strings.ToLower(u.Hostname()), u.Scheme, true
}

// Validate checks every field (not the administrator's Policy: see Policy.Check); p is the path
// of the configuration itself (nil at the top).
func (c *Config) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	host, _, ok := endpointHost(c.Endpoint)
	switch {
	case c.Endpoint == "":
		errs = append(errs, field.Required(child(p, "endpoint"), "e.g. oss-cn-hangzhou-internal.aliyuncs.com"))
	case !ok:
		errs = append(errs, field.Invalid(child(p, "endpoint"), c.Endpoint, "want host[:port] or http(s)://host[:port] with no path, query or user info"))
	}
	switch {
	case c.Bucket == "":
		errs = append(errs, field.Required(child(p, "bucket"), ""))
	case !bucketRE.MatchString(c.Bucket):
		errs = append(errs, field.Invalid(child(p, "bucket"), c.Bucket, "want 3-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen"))
	}
	if c.Region == "" && ok && !endpointRE.MatchString(host) {
		errs = append(errs, field.Required(child(p, "region"), "needed when the endpoint is not oss-<region>[-internal].aliyuncs.com (V4 signatures are scoped to a region)"))
	} else if c.Region != "" && !regionRE.MatchString(c.Region) {
		errs = append(errs, field.Invalid(child(p, "region"), c.Region, "want a region ID such as cn-hangzhou"))
	}
	errs = append(errs, c.Credentials.validate(child(p, "credentials"))...)
	errs = append(errs, c.validateTuning(p)...)
	if !encryptions[c.ServerSideEncryption] {
		errs = append(errs, field.NotSupported(child(p, "serverSideEncryption"), c.ServerSideEncryption, []string{"AES256", "KMS", "SM4"}))
	}
	if !storageClasses[c.StorageClass] {
		errs = append(errs, field.NotSupported(child(p, "storageClass"), c.StorageClass, []string{"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"}))
	}
	if c.CheckpointDir != "" && !strings.HasPrefix(c.CheckpointDir, "/") {
		errs = append(errs, field.Invalid(child(p, "checkpointDir"), c.CheckpointDir, "want an absolute path"))
	}
	return errs
}

func (c *Config) validateTuning(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case c.PartSize.bad != "":
		errs = append(errs, field.Invalid(child(p, "partSize"), c.PartSize.bad, "not a size: want a whole number of bytes or a quantity like 16Mi"))
	case c.PartSize.Bytes != 0 && (c.PartSize.Bytes < MinPartSize || c.PartSize.Bytes > MaxPartSize):
		errs = append(errs, field.Invalid(child(p, "partSize"), c.PartSize.Bytes, "want between 100Ki and 5Gi"))
	}
	if c.Parallel < 0 || c.Parallel > MaxParallel {
		errs = append(errs, field.Invalid(child(p, "parallel"), c.Parallel, fmt.Sprintf("want between 1 and %d", MaxParallel)))
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > MaxMaxAttempts {
		errs = append(errs, field.Invalid(child(p, "maxAttempts"), c.MaxAttempts, fmt.Sprintf("want between 1 and %d", MaxMaxAttempts)))
	}
	return errs
}

func (cr *CredentialsConfig) validate(p *field.Path) field.ErrorList {
	if cr == nil {
		return nil
	}
	var errs field.ErrorList
	if cr.AccessKeyIDEnv == "" || cr.AccessKeySecretEnv == "" {
		errs = append(errs, field.Required(p, "accessKeyIdEnv and accessKeySecretEnv must both be set"))
	}
	for _, f := range []struct{ name, value string }{
		{"accessKeyIdEnv", cr.AccessKeyIDEnv}, {"accessKeySecretEnv", cr.AccessKeySecretEnv}, {"sessionTokenEnv", cr.SessionTokenEnv},
	} {
		if f.value != "" && !envNameRE.MatchString(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, "want an environment variable name"))
		}
	}
	return errs
}

// defaults fills in the defaults of a valid configuration.
func (c *Config) defaults() {
	if c.Region == "" {
		host, _, _ := endpointHost(c.Endpoint)
		if m := endpointRE.FindStringSubmatch(host); m != nil {
			c.Region = m[1]
		}
	}
	if c.PartSize.Bytes == 0 {
		c.PartSize = Size{Bytes: DefaultPartSize}
	}
	if c.Parallel == 0 {
		c.Parallel = DefaultParallel
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
}
