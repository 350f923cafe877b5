package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/argo-eci/argo-eci/artifacts"
)

// Environment variables of the artifact server's administrator settings. Argo starts the plugin
// in workflow pods with the image's entrypoint from the controller's images index (which may
// carry these as flags) and the executor's environment from the controller ConfigMap: both are
// the administrator's, neither is the workflow author's.
const (
	envAllowedEndpoints    = "ARGO_ECI_ARTIFACT_ALLOWED_ENDPOINTS"
	envAllowHTTP           = "ARGO_ECI_ARTIFACT_ALLOW_HTTP"
	envCredentialEnvPrefix = "ARGO_ECI_ARTIFACT_CREDENTIAL_ENV_PREFIX"
	envSocketMode          = "ARGO_ECI_ARTIFACT_SOCKET_MODE"
	envSTSEndpoint         = "ARGO_ECI_ARTIFACT_STS_ENDPOINT"
)

type artifactServerOptions struct {
	allowedEndpoints    []string
	allowHTTP           bool
	credentialEnvPrefix string
	socketMode          string
	stsEndpoint         string
}

func newArtifactServerCmd() *cobra.Command {
	cmd, _ := artifactServerCommand()
	return cmd
}

// artifactServerCommand returns the command and the options its flags are bound to.
func artifactServerCommand() (*cobra.Command, *artifactServerOptions) {
	o := &artifactServerOptions{}
	cmd := &cobra.Command{
		Use:   "artifact-server SOCKET",
		Short: "Argo v4 artifact plugin for OSS on a unix socket",
		Long: "Serves Argo's artifact.ArtifactService for the artifact plugin argo-eci-oss on the unix socket SOCKET.\n" +
			"Credentials come from the artifact configuration's accessKeyIdEnv/accessKeySecretEnv (names must start\n" +
			"with the credential prefix), then OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET/OSS_SESSION_TOKEN, then RRSA,\n" +
			"then the ECI/ECS RAM role. Configurations may reach only the allowed endpoints, over https unless\n" +
			"--allow-http. Each flag can also be set by its environment variable (" + envAllowedEndpoints + ",\n" +
			envAllowHTTP + ", " + envCredentialEnvPrefix + ", " + envSocketMode + ", " + envSTSEndpoint + "); a flag wins.\n" +
			"HTTP_PROXY/HTTPS_PROXY/NO_PROXY are honoured. On SIGTERM it finishes in-flight calls and exits 0.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger, err := commandLogger(cmd)
			if err != nil {
				return err
			}
			logger = logger.With("component", "artifact-server")
			srv, err := o.server(cmd, logger)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := artifacts.Serve(cmd.Context(), args[0], srv); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.allowedEndpoints, "allowed-endpoints", nil,
		"endpoint host patterns configurations may use (path.Match syntax); default "+strings.Join(artifacts.DefaultAllowedEndpoints, ","))
	f.BoolVar(&o.allowHTTP, "allow-http", false, "allow http:// endpoints (default: https only)")
	f.StringVar(&o.credentialEnvPrefix, "credential-env-prefix", "",
		"prefix required of environment variables named in a configuration's credentials; default "+artifacts.DefaultCredentialEnvPrefix)
	f.StringVar(&o.socketMode, "socket-mode", "", "octal permission of the socket; default 0666 so argo-server (uid 8737) can connect")
	f.StringVar(&o.stsEndpoint, "sts-endpoint", "", "STS host[:port] for RRSA credentials; default sts.<region>.aliyuncs.com")
	return cmd, o
}

// server builds the artifact server from flags, falling back to the environment.
func (o *artifactServerOptions) server(cmd *cobra.Command, logger *slog.Logger) (*artifacts.Server, error) {
	changed := cmd.Flags().Changed
	if !changed("allowed-endpoints") {
		if v := os.Getenv(envAllowedEndpoints); v != "" {
			o.allowedEndpoints = strings.Split(v, ",")
		}
	}
	if !changed("allow-http") {
		if v := os.Getenv(envAllowHTTP); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: want true or false", envAllowHTTP, v)
			}
			o.allowHTTP = b
		}
	}
	if !changed("credential-env-prefix") {
		o.credentialEnvPrefix = os.Getenv(envCredentialEnvPrefix)
	}
	if !changed("socket-mode") {
		o.socketMode = os.Getenv(envSocketMode)
	}
	if !changed("sts-endpoint") {
		o.stsEndpoint = os.Getenv(envSTSEndpoint)
	}
	var mode os.FileMode
	if o.socketMode != "" {
		m, err := strconv.ParseUint(o.socketMode, 8, 32)
		if err != nil || m > 0o777 || m == 0 {
			return nil, fmt.Errorf("socket mode %q: want octal permission bits such as 0660", o.socketMode)
		}
		mode = os.FileMode(m)
	}
	for i := range o.allowedEndpoints {
		o.allowedEndpoints[i] = strings.TrimSpace(o.allowedEndpoints[i])
	}
	driver, err := artifacts.NewDriver(os.LookupEnv, artifacts.Policy{
		AllowedEndpoints: o.allowedEndpoints, AllowHTTP: o.allowHTTP, CredentialEnvPrefix: o.credentialEnvPrefix,
	}, logger)
	if err != nil {
		return nil, err
	}
	driver.STSEndpoint = o.stsEndpoint
	return &artifacts.Server{Driver: driver, Logger: logger, SocketMode: mode}, nil
}

// newArtifactSignalCmd is the kill command the webhook gives argo-eci's artifact sidecar
// (artifacts.GuardSidecar): Argo's controller runs it inside the sidecar's container with the
// signal it means to send once the step's main container has exited.
func newArtifactSignalCmd() *cobra.Command {
	return &cobra.Command{
		Use:   artifacts.SignalCommand + " SIGNAL",
		Short: "Kill command of the artifact sidecar: SIGTERM is left to the wait container",
		Long: "Run by Argo's workflow-controller inside the artifact sidecar's container (pod annotation\n" +
			"workflows.argoproj.io/kill-cmd-<container>). SIGNAL 15 (SIGTERM) does nothing: the wait container\n" +
			"stops the sidecar once its saves have ended, where Argo's own kill command would cut an upload\n" +
			"short. Any other signal number is sent to the container's PID 1, as Argo's kill command does.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil || n <= 0 || n > 64 {
				return &exitError{code: 2, err: fmt.Errorf("SIGNAL %q: want a signal number from 1 to 64", args[0])}
			}
			sent, err := artifacts.SidecarSignal(syscall.Signal(n), syscall.Kill)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if !sent {
				_, err = fmt.Fprintln(cmd.OutOrStdout(), "SIGTERM left to the wait container: the sidecar stops after its last save")
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "sent %v to PID 1\n", syscall.Signal(n))
			return err
		},
	}
}
