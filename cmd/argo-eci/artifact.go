package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/argo-eci/argo-eci/artifacts"
)

func newArtifactServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "artifact-server SOCKET",
		Short: "Argo v4 artifact plugin for OSS on a unix socket",
		Long: "Serves Argo's artifact.ArtifactService for the artifact plugin argo-eci-oss on the unix socket SOCKET.\n" +
			"Credentials come from the artifact configuration's accessKeyIdEnv/accessKeySecretEnv, then\n" +
			"OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET/OSS_SESSION_TOKEN, then RRSA, then the ECI/ECS RAM role.\n" +
			"On SIGTERM it finishes in-flight calls and exits 0.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger, err := commandLogger(cmd)
			if err != nil {
				return err
			}
			logger = logger.With("component", "artifact-server")
			srv := &artifacts.Server{
				Driver: &artifacts.Driver{Env: os.LookupEnv, Logger: logger},
				Logger: logger,
			}
			if err := artifacts.Serve(cmd.Context(), args[0], srv); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
}
