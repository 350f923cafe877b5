package artifacts

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
)

func TestParseConfig(t *testing.T) {
	ok := []struct {
		name, text string
		check      func(*Config) bool
	}{
		{"minimal with derived region", "endpoint: oss-cn-beijing-internal.aliyuncs.com\nbucket: my-bucket\n",
			func(c *Config) bool {
				return c.Region == "cn-beijing" && c.PartSize.Bytes == DefaultPartSize && c.Parallel == DefaultParallel && c.MaxAttempts == DefaultMaxAttempts
			}},
		{"quantity part size", "endpoint: https://oss-cn-hangzhou.aliyuncs.com\nbucket: b-1\npartSize: 64Mi\nparallel: 16\n",
			func(c *Config) bool {
				return c.PartSize.Bytes == 64<<20 && c.Parallel == 16 && c.Region == "cn-hangzhou"
			}},
		{"integer part size", "endpoint: http://127.0.0.1:9000\nbucket: abc\nregion: cn-shanghai\npartSize: 1048576\n",
			func(c *Config) bool { return c.PartSize.Bytes == 1<<20 }},
		{"everything", `endpoint: oss-cn-hangzhou.aliyuncs.com
bucket: data-bucket
region: cn-hangzhou
credentials: {accessKeyIdEnv: AK, accessKeySecretEnv: SK, sessionTokenEnv: TOKEN}
partSize: 16Mi
parallel: 4
serverSideEncryption: KMS
storageClass: IA
pathStyle: true
checkpointDir: /tmp/cp
maxAttempts: 7
`, func(c *Config) bool {
			return c.Credentials.AccessKeyIDEnv == "AK" && c.ServerSideEncryption == "KMS" && c.StorageClass == "IA" && c.PathStyle && c.MaxAttempts == 7
		}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}

	bad := []struct{ text, field string }{
		{"", ""},
		{"bucket: b1b\n", "endpoint"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\n", "bucket"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: Bad_Bucket\n", "bucket"},
		{"endpoint: 127.0.0.1:9000\nbucket: abc\n", "region"},
		{"endpoint: ftp://x\nbucket: abc\nregion: r\n", "endpoint"},
		{"endpoint: http://x/path\nbucket: abc\nregion: r\n", "endpoint"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\nbuckets: x\n", "buckets"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\npartSize: 10\n", "partSize"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\npartSize: lots\n", "partSize"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\nparallel: 1000\n", "parallel"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\nparallel: many\n", "parallel"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\nserverSideEncryption: rot13\n", "serverSideEncryption"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\nstorageClass: Cold\n", "storageClass"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\ncredentials: {accessKeyIdEnv: A}\n", "credentials"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\ncredentials: {accessKeyIdEnv: A, accessKeySecretEnv: 'bad name'}\n", "credentials.accessKeySecretEnv"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\ncredentials: {accessKeyId: A, accessKeySecretEnv: B}\n", "credentials.accessKeyId"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\ncheckpointDir: relative\n", "checkpointDir"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\nmaxAttempts: 0.5\n", "maxAttempts"},
		{"endpoint: [unclosed\n", ""},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\nbucket: other\n", "bucket"},
		{"endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\ncredentials: {accessKeyIdEnv: A, accessKeySecretEnv: B, accessKeyIdEnv: C}\n", "credentials.accessKeyIdEnv"},
	}
	for _, tc := range bad {
		_, err := ParseConfig(tc.text)
		var ce *badinput.Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v, want *badinput.Error", tc.text, err)
			continue
		}
		if got := ce.Field(); got != tc.field || ce.Input != "configuration" {
			t.Errorf("%q: first field %q of %q, want %q of configuration (%v)", tc.text, got, ce.Input, tc.field, err)
		}
	}
}

// FuzzParseConfig: seeds in testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseConfig(text)
		if err != nil {
			if _, ok := badinput.As(err); !ok {
				t.Fatalf("error is not a *badinput.Error: %v", err)
			}
			return
		}
		// A parsed configuration is valid and complete.
		if c.Endpoint == "" || !bucketRE.MatchString(c.Bucket) || c.Region == "" ||
			c.PartSize.Bytes < MinPartSize || c.PartSize.Bytes > MaxPartSize || c.Parallel < 1 || c.Parallel > MaxParallel ||
			c.MaxAttempts < 1 || !storageClasses[c.StorageClass] || !encryptions[c.ServerSideEncryption] {
			t.Fatalf("invalid config accepted: %+v", c)
		}
		if strings.ContainsAny(c.Endpoint, " \n") {
			t.Fatalf("endpoint with spaces accepted: %q", c.Endpoint)
		}
	})
}

func TestRelativeKey(t *testing.T) {
	cases := []struct {
		key, want string
		bad       bool
	}{
		{"p/a.txt", "a.txt", false},
		{"p/sub/b c/数据.bin", "sub/b c/数据.bin", false},
		{"p/", "", false},
		{"p/empty/", "empty/", false},
		{"p/../x", "", true},
		{"p/a/../../x", "", true},
		{"p//abs", "", true},
		{"p/./x", "", true},
		{"p/a//b", "", true},
		{"p/a\\..\\b", "", true},
		{"p/nul\x00", "", true},
		{"q/other", "", true},
		{"p/..", "", true},
		{"p/a/..", "", true},
	}
	for _, tc := range cases {
		got, err := relativeKey("p/", tc.key)
		if tc.bad {
			if !errors.Is(err, ErrUnsafeKey) {
				t.Errorf("%q: got %q, %v; want ErrUnsafeKey", tc.key, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.key, got, err, tc.want)
		}
	}
}

// FuzzRelativeKey: seeds in testdata/fuzz/FuzzRelativeKey.
func FuzzRelativeKey(f *testing.F) {
	root := "/base/target"
	f.Fuzz(func(t *testing.T, rel string) {
		r, err := relativeKey("k/", "k/"+rel)
		if err != nil {
			return
		}
		p, err := localPath(root, r)
		if err != nil {
			return
		}
		if p != root && !strings.HasPrefix(p, root+"/") {
			t.Fatalf("key %q escaped to %q", rel, p)
		}
	})
}

func TestCredentialsOrder(t *testing.T) {
	cfg := func(extra string) *Config {
		c, err := ParseConfig("endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: abc\n" + extra)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	all := map[string]string{
		"MY_ID": "id1", "MY_SECRET": "s1",
		EnvAccessKeyID: "id2", EnvAccessKeySecret: "s2",
		EnvRoleARN: "acs:ram::1:role/r", EnvOIDCProviderARN: "acs:ram::1:oidc-provider/p", EnvOIDCTokenFile: "/var/run/token",
	}
	env := func(m map[string]string, drop ...string) LookupEnv {
		c := map[string]string{}
		for k, v := range m {
			c[k] = v
		}
		for _, d := range drop {
			delete(c, d)
		}
		return func(k string) (string, bool) { v, ok := c[k]; return v, ok }
	}
	explicit := "credentials: {accessKeyIdEnv: MY_ID, accessKeySecretEnv: MY_SECRET}\n"
	cases := []struct {
		name  string
		cfg   *Config
		env   LookupEnv
		want  CredentialSource
		id    string
		fails bool
	}{
		{"explicit names win", cfg(explicit), env(all), SourceConfigEnv, "id1", false},
		{"explicit names must be set", cfg(explicit), env(all, "MY_SECRET"), "", "", true},
		{"OSS_ env next", cfg(""), env(all), SourceOSSEnv, "id2", false},
		{"RRSA next", cfg(""), env(all, EnvAccessKeyID), SourceRRSA, "", false},
		{"RAM role last", cfg(""), env(map[string]string{}), SourceECSRole, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, src, err := credentialsProvider(tc.cfg, tc.env, "")
			if tc.fails {
				bad, ok := badinput.As(err)
				if !ok || len(bad.Errs) != 1 || bad.Errs[0].BadValue != "MY_SECRET" {
					t.Fatalf("want a configuration error naming MY_SECRET, got %v", err)
				}
				return
			}
			if err != nil || src != tc.want {
				t.Fatalf("source %q, %v; want %q", src, err, tc.want)
			}
			if tc.id != "" {
				c, err := p.GetCredentials(t.Context())
				if err != nil || c.AccessKeyID != tc.id {
					t.Fatalf("credentials %q, %v; want id %q", c.AccessKeyID, err, tc.id)
				}
			}
		})
	}
}

func TestReplyError(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{configError(field.ErrorList{field.Required(field.NewPath("bucket"), "")}), "argo-eci-oss save invalid artifact configuration: configuration: bucket: Required value"},
		{errors.Join(ErrNotFound), "argo-eci-oss save not found"},
		{ErrUnsafeKey, "argo-eci-oss save unsafe object key"},
		{ErrCRCMismatch, "argo-eci-oss save integrity check failed"},
		{ErrMissingCRC, "argo-eci-oss save integrity check failed"},
		{errors.New("boom"), "argo-eci-oss save failed: boom"},
	}
	for _, tc := range cases {
		if got := replyError("save", tc.err); !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("replyError(%v) = %q, want prefix %q", tc.err, got, tc.want)
		}
	}
}
