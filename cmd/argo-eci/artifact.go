package main

import "github.com/spf13/cobra"

func newArtifactServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "artifact-server",
		Short: "Argo v4 artifact plugin for OSS on a unix socket",
		RunE: func(*cobra.Command, []string) error {
			return errNotImplemented("artifact-server")
		},
	}
}
