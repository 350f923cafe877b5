// Command argo-eci is the one binary of argo-eci: the ECI mutating webhook, the executor plugin,
// the OSS artifact plugin, and the offline render and lint tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
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

// errNotImplemented is returned by subcommands whose issue has not landed yet (exit 2).
func errNotImplemented(name string) error {
	return &exitError{code: 2, err: fmt.Errorf("%s: not implemented yet", name)}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "argo-eci",
		Short:         "Run Argo Workflows well on Alibaba Cloud ECI",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newWebhookCmd(),
		newPluginCmd(),
		newArtifactServerCmd(),
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
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}
