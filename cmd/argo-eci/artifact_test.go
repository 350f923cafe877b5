package main

import (
	"bytes"
	"io"
	"log/slog"
	"slices"
	"strings"
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

// TestArtifactSignalCommand: SIGTERM is answered without a signal (the wait container stops the
// sidecar); a signal number that is not one is bad input.
func TestArtifactSignalCommand(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"artifact-signal", "15"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "left to the wait container") {
		t.Errorf("artifact-signal 15: %v, %q", err, out.String())
	}
	for _, arg := range []string{"TERM", "0", "65"} {
		root := newRootCmd()
		root.SetOut(&bytes.Buffer{})
		root.SetArgs([]string{"artifact-signal", arg})
		if err := root.Execute(); exitCode(err) != 2 {
			t.Errorf("artifact-signal %s: %v (exit %d), want exit 2", arg, err, exitCode(err))
		}
	}
}
