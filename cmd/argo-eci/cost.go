package main

import "github.com/spf13/cobra"

func newCostCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cost [-n NAMESPACE] [WORKFLOW]",
		Short: "What workflows cost on ECI: billed spec, spot or on-demand, seconds, CNY",
		RunE:  func(*cobra.Command, []string) error { return errNotImplemented("cost") },
	}
}
