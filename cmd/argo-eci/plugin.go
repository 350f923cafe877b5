package main

import "github.com/spf13/cobra"

func newPluginCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plugin",
		Short: "Argo executor-plugin server (template.execute)",
		RunE: func(*cobra.Command, []string) error {
			return errNotImplemented("plugin")
		},
	}
}
