package artifacts

import (
	"context"
	"fmt"
	"sync"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Environment variables of the default credential chain.
const (
	EnvAccessKeyID     = "OSS_ACCESS_KEY_ID"
	EnvAccessKeySecret = "OSS_ACCESS_KEY_SECRET"
	EnvSessionToken    = "OSS_SESSION_TOKEN"
	EnvRoleARN         = "ALIBABA_CLOUD_ROLE_ARN"
	EnvOIDCProviderARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
	EnvOIDCTokenFile   = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
	EnvECSMetadataRole = "ALIBABA_CLOUD_ECS_METADATA"
	rrsaSessionName    = "argo-eci-artifacts"
)

// LookupEnv reads an environment variable; os.LookupEnv in production, a map in tests.
type LookupEnv func(name string) (string, bool)

// CredentialSource names where credentials came from, for logs (never the values).
type CredentialSource string

// Credential sources, in the order they are tried.
const (
	SourceConfigEnv CredentialSource = "configured environment variables"
	SourceOSSEnv    CredentialSource = "OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET"
	SourceRRSA      CredentialSource = "RRSA (OIDC role)"
	SourceECSRole   CredentialSource = "ECI/ECS RAM role"
)

// credentialsProvider picks the first source that applies, in this order: the
// configured variable names, OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET/OSS_SESSION_TOKEN,
// RRSA (ALIBABA_CLOUD_ROLE_ARN + ALIBABA_CLOUD_OIDC_PROVIDER_ARN + ALIBABA_CLOUD_OIDC_TOKEN_FILE),
// then the instance's RAM role from the metadata service (ALIBABA_CLOUD_ECS_METADATA names the
// role; empty lets the SDK discover it).
func credentialsProvider(cfg *Config, env LookupEnv, stsEndpoint string) (credentials.CredentialsProvider, CredentialSource, error) {
	get := func(name string) string {
		v, _ := env(name)
		return v
	}
	if cr := cfg.Credentials; cr != nil {
		id, secret := get(cr.AccessKeyIDEnv), get(cr.AccessKeySecretEnv)
		if id == "" {
			return nil, "", configError(field.ErrorList{field.Invalid(field.NewPath("credentials", "accessKeyIdEnv"), cr.AccessKeyIDEnv, "the environment variable is empty or unset")})
		}
		if secret == "" {
			return nil, "", configError(field.ErrorList{field.Invalid(field.NewPath("credentials", "accessKeySecretEnv"), cr.AccessKeySecretEnv, "the environment variable is empty or unset")})
		}
		token := ""
		if cr.SessionTokenEnv != "" {
			token = get(cr.SessionTokenEnv)
		}
		return credentials.NewStaticCredentialsProvider(id, secret, token), SourceConfigEnv, nil
	}
	if id, secret := get(EnvAccessKeyID), get(EnvAccessKeySecret); id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, get(EnvSessionToken)), SourceOSSEnv, nil
	}
	if role, oidc, token := get(EnvRoleARN), get(EnvOIDCProviderARN), get(EnvOIDCTokenFile); role != "" && oidc != "" && token != "" {
		builder := providers.NewOIDCCredentialsProviderBuilder().
			WithRoleArn(role).WithOIDCProviderARN(oidc).WithOIDCTokenFilePath(token).
			WithRoleSessionName(rrsaSessionName).WithStsRegionId(cfg.Region)
		if stsEndpoint != "" {
			builder = builder.WithSTSEndpoint(stsEndpoint)
		}
		p, err := builder.Build()
		if err != nil {
			return nil, "", fmt.Errorf("RRSA credentials: %w", err)
		}
		return &rrsaProvider{p: p}, SourceRRSA, nil
	}
	return credentials.NewEcsRoleCredentialsProvider(credentials.EcsRamRole(get(EnvECSMetadataRole))), SourceECSRole, nil
}

// rrsaProvider hands out RRSA (OIDC) credentials. The SDK asks for credentials before every
// request; credentials-go caches the STS token and fetches a new one when it is within three
// minutes of the expiry STS stated, so a long transfer switches to fresh credentials in time.
// (A fixed expiry stamped here would keep an expired token, or refresh one still valid.)
type rrsaProvider struct {
	mu sync.Mutex // the credentials-go provider is not safe for concurrent use
	p  *providers.OIDCCredentialsProvider
}

func (r *rrsaProvider) GetCredentials(context.Context) (credentials.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.p.GetCredentials()
	if err != nil {
		return credentials.Credentials{}, fmt.Errorf("RRSA credentials: %w", err)
	}
	return credentials.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}, nil
}
