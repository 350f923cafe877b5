package main

import "github.com/spf13/cobra"

func newRenderCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "render",
		Short: "Apply an ECI profile to a workflow file",
		RunE: func(*cobra.Command, []string) error {
			return errNotImplemented("render")
		},
	}
}
