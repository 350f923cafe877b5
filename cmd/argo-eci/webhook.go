package main

import "github.com/spf13/cobra"

func newWebhookCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "webhook",
		Short: "HTTPS mutating admission webhook for Argo pods and workflows",
		RunE: func(*cobra.Command, []string) error {
			return errNotImplemented("webhook")
		},
	}
}
