package main

import (
	"io"
	"log/slog"
	"slices"
	"testing"
)

// TestArtifactServerSettings: flags win over their environment variables, which win over the
// defaults; bad values are refused.
func TestArtifactServerSettings(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv(envAllowedEndpoints, "oss-*.aliyuncs.com, minio.storage.svc")
	t.Setenv(envAllowHTTP, "true")
	t.Setenv(envCredentialEnvPrefix, "TEAM_")
	t.Setenv(envSocketMode, "0660")
	t.Setenv(envSTSEndpoint, "sts-vpc.cn-hangzhou.aliyuncs.com")

	cmd, o := artifactServerCommand()
	if err := cmd.ParseFlags([]string{"--credential-env-prefix=FLAG_"}); err != nil {
		t.Fatal(err)
	}
	srv, err := o.server(cmd, logger)
	if err != nil {
		t.Fatal(err)
	}
	p := srv.Driver.Policy
	if !slices.Equal(p.AllowedEndpoints, []string{"oss-*.aliyuncs.com", "minio.storage.svc"}) || !p.AllowHTTP ||
		p.CredentialEnvPrefix != "FLAG_" || srv.SocketMode != 0o660 || srv.Driver.STSEndpoint != "sts-vpc.cn-hangzhou.aliyuncs.com" {
		t.Fatalf("settings %+v, socket mode %v, sts %q", p, srv.SocketMode, srv.Driver.STSEndpoint)
	}

	for name, env := range map[string][2]string{
		"socket mode": {envSocketMode, "rw-rw-rw-"},
		"allow http":  {envAllowHTTP, "sometimes"},
		"pattern":     {envAllowedEndpoints, "a/b"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(env[0], env[1])
			cmd, o := artifactServerCommand()
			if _, err := o.server(cmd, logger); err == nil {
				t.Fatalf("%s=%q accepted", env[0], env[1])
			}
		})
	}
}
