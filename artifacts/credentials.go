package artifacts

import (
	"context"
	"fmt"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
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

// credentialsProvider picks the first source that applies, in DESIGN.md's order: the
// configured variable names, OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET/OSS_SESSION_TOKEN,
// RRSA (ALIBABA_CLOUD_ROLE_ARN + ALIBABA_CLOUD_OIDC_PROVIDER_ARN + ALIBABA_CLOUD_OIDC_TOKEN_FILE),
// then the instance's RAM role from the metadata service (ALIBABA_CLOUD_ECS_METADATA names the
// role; empty lets the SDK discover it).
func credentialsProvider(cfg *Config, env LookupEnv) (credentials.CredentialsProvider, CredentialSource, error) {
	get := func(name string) string {
		v, _ := env(name)
		return v
	}
	if cr := cfg.Credentials; cr != nil {
		id, secret := get(cr.AccessKeyIDEnv), get(cr.AccessKeySecretEnv)
		if id == "" {
			return nil, "", &ConfigError{Field: "credentials.accessKeyIdEnv", Reason: fmt.Sprintf("environment variable %s is empty or unset", cr.AccessKeyIDEnv)}
		}
		if secret == "" {
			return nil, "", &ConfigError{Field: "credentials.accessKeySecretEnv", Reason: fmt.Sprintf("environment variable %s is empty or unset", cr.AccessKeySecretEnv)}
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
		p, err := providers.NewOIDCCredentialsProviderBuilder().
			WithRoleArn(role).WithOIDCProviderARN(oidc).WithOIDCTokenFilePath(token).
			WithRoleSessionName(rrsaSessionName).WithStsRegionId(cfg.Region).Build()
		if err != nil {
			return nil, "", fmt.Errorf("RRSA credentials: %w", err)
		}
		fetch := credentials.CredentialsFetcherFunc(func(context.Context) (credentials.Credentials, error) {
			c, err := p.GetCredentials()
			if err != nil {
				return credentials.Credentials{}, fmt.Errorf("RRSA credentials: %w", err)
			}
			// STS tokens from RRSA last an hour; refresh well before.
			exp := time.Now().Add(45 * time.Minute)
			return credentials.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken, Expires: &exp}, nil
		})
		return credentials.NewCredentialsFetcherProvider(fetch), SourceRRSA, nil
	}
	return credentials.NewEcsRoleCredentialsProvider(credentials.EcsRamRole(get(EnvECSMetadataRole))), SourceECSRole, nil
}
