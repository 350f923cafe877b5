// Command argo-eci is the one binary of argo-eci: the ECI mutating webhook, the executor plugin,
// the OSS artifact plugin, and the offline render and lint tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argo-eci/argo-eci/badinput"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// logFlags are the logging flags every subcommand shares.
type logFlags struct {
	level  string
	format string
}

// newLogger builds the logger of a subcommand from the shared flags, writing to w.
func (f *logFlags) newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--log-level %q: expected debug, info, warn or error", f.level)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, &exitError{code: 2, err: fmt.Errorf("--log-format %q: expected json or text", f.format)}
	}
}

// rootLog holds the values of the shared logging flags.
var rootLog = &logFlags{}

// commandLogger is the logger of a subcommand, built from the shared --log-level and --log-format.
func commandLogger(cmd *cobra.Command) (*slog.Logger, error) {
	return rootLog.newLogger(cmd.ErrOrStderr())
}

// kubeClientConfig is the one kubeconfig loader of every subcommand: the file at path, else
// $KUBECONFIG, else ~/.kube/config, else the in-cluster ServiceAccount. Its Namespace is the
// context's namespace (or the pod's, in a cluster).
func kubeClientConfig(path string) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
}

// kubeConfig is the REST configuration from kubeClientConfig, with userAgent/version as the
// user agent.
func kubeConfig(path, userAgent string) (*rest.Config, error) {
	cfg, err := kubeClientConfig(path).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration (--kubeconfig, $KUBECONFIG, ~/.kube/config or in-cluster): %w", err)
	}
	cfg.UserAgent = userAgent + "/" + version
	return cfg, nil
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "argo-eci",
		Short:         "Run Argo Workflows well on Alibaba Cloud ECI",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&rootLog.level, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&rootLog.format, "log-format", "json", "log format: json or text")
	root.AddCommand(
		newVersionCmd(),
		newWebhookCmd(),
		newPluginCmd(),
		newArtifactServerCmd(),
		newArtifactSignalCmd(),
		newRenderCmd(),
		newLintCmd(),
		newCostCmd(),
		newRecommendCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit, Go and Argo API versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "argo-eci %s\ncommit: %s\ngo: %s\nargo-workflows API: %s\n",
				version, commit, runtime.Version(), moduleVersion("github.com/argoproj/argo-workflows/v4"))
			return err
		},
	}
}

// moduleVersion reports the version of a dependency compiled into this binary.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			return dep.Version
		}
	}
	return "unknown"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "argo-eci:", err)
	os.Exit(exitCode(err))
}

// exitCode is the process exit code for a command's error: the code an exitError carries, 2 for
// bad input (a *badinput.Error: a flag, file or ConfigMap that does not decode or validate), 1
// for any other error and 0 for none.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var (
		ee  *exitError
		bad *badinput.Error
	)
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &bad):
		return 2
	}
	return 1
}
