package main

import "github.com/spf13/cobra"

func newRecommendCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "recommend",
		Short: "Learned per-template ECI specs from observed usage in Prometheus",
		RunE:  func(*cobra.Command, []string) error { return errNotImplemented("recommend") },
	}
}
