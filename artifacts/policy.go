package artifacts

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultAllowedEndpoints are the endpoint host patterns allowed when the administrator sets
// none: Alibaba Cloud OSS's public, internal and accelerated endpoints.
var DefaultAllowedEndpoints = []string{"oss-*.aliyuncs.com"}

// DefaultCredentialEnvPrefix is the prefix that environment variables named by an artifact
// configuration's credentials must carry when the administrator sets none. It matches none of
// the variables of the default credential chain (OSS_ACCESS_KEY_ID, ALIBABA_CLOUD_*), so a
// configuration cannot send those anywhere under another name.
const DefaultCredentialEnvPrefix = "ARTIFACT_OSS_"

// Policy is what the administrator lets artifact configurations do. Configurations are written
// by workflow authors, so they are untrusted: without a policy a configuration could name any
// environment variable of the plugin as its "access key" and send it, signed into every
// request, to an endpoint of the author's choosing. The policy comes from the plugin's flags
// and environment, which only the administrator controls (the controller's images index and
// executor settings).
type Policy struct {
	// AllowedEndpoints are host patterns (path.Match syntax, e.g. "oss-*.aliyuncs.com",
	// "127.0.0.1"); an endpoint's host name must match one. Empty means
	// DefaultAllowedEndpoints.
	AllowedEndpoints []string
	// AllowHTTP permits endpoints with the http scheme; otherwise only https is allowed.
	AllowHTTP bool
	// CredentialEnvPrefix is the prefix every variable named in credentials must start with.
	// Empty means DefaultCredentialEnvPrefix.
	CredentialEnvPrefix string
}

func (p Policy) endpoints() []string {
	if len(p.AllowedEndpoints) == 0 {
		return DefaultAllowedEndpoints
	}
	return p.AllowedEndpoints
}

func (p Policy) prefix() string {
	if p.CredentialEnvPrefix == "" {
		return DefaultCredentialEnvPrefix
	}
	return p.CredentialEnvPrefix
}

// Validate checks the policy's own settings.
func (p Policy) Validate(fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, pat := range p.AllowedEndpoints {
		if _, err := path.Match(pat, ""); err != nil || pat == "" || strings.ContainsAny(pat, "/:") {
			errs = append(errs, field.Invalid(child(fp, "allowedEndpoints").Index(i), pat, "want a host name pattern such as oss-*.aliyuncs.com"))
		}
	}
	if p.CredentialEnvPrefix != "" && !envNameRE.MatchString(p.CredentialEnvPrefix) {
		errs = append(errs, field.Invalid(child(fp, "credentialEnvPrefix"), p.CredentialEnvPrefix, "want the start of an environment variable name"))
	}
	return errs
}

// Check reports what a valid configuration asks for that the policy does not allow; p is the
// configuration's path.
func (p Policy) Check(c *Config, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	host, scheme, _ := endpointHost(c.Endpoint)
	if scheme == "http" && !p.AllowHTTP {
		errs = append(errs, field.Forbidden(child(fp, "endpoint"), "plain http is not allowed by the plugin's administrator; use https"))
	}
	if !p.endpointAllowed(host) {
		errs = append(errs, field.Forbidden(child(fp, "endpoint"),
			fmt.Sprintf("host %q is not in the plugin's allowed endpoints %v", host, p.endpoints())))
	}
	if cr := c.Credentials; cr != nil {
		for _, f := range []struct{ name, value string }{
			{"accessKeyIdEnv", cr.AccessKeyIDEnv}, {"accessKeySecretEnv", cr.AccessKeySecretEnv}, {"sessionTokenEnv", cr.SessionTokenEnv},
		} {
			if f.value != "" && !strings.HasPrefix(f.value, p.prefix()) {
				errs = append(errs, field.Forbidden(child(fp, "credentials").Child(f.name),
					fmt.Sprintf("the plugin's administrator allows only variables starting with %s", p.prefix())))
			}
		}
	}
	return errs
}

func (p Policy) endpointAllowed(host string) bool {
	for _, pat := range p.endpoints() {
		if ok, err := path.Match(strings.ToLower(pat), host); err == nil && ok {
			return true
		}
	}
	return false
}
