package main

import "github.com/spf13/cobra"

func newLintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lint",
		Short: "Report ECI problems in a workflow file",
		RunE: func(*cobra.Command, []string) error {
			return errNotImplemented("lint")
		},
	}
}
