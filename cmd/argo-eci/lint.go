package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/lint"
)

func newLintCmd() *cobra.Command {
	var in shapeInput
	var output string
	cmd := &cobra.Command{
		Use:   "lint -f FILE [--profiles FILE] [-o text|json]",
		Short: "Report ECI problems in a workflow file",
		Long: `lint reports what would still be wrong on ECI once argo-eci has shaped the workflow with the
selected profile: each finding has a stable code (ECI001…), a severity, the template, the field path
and a fix hint. Workflows, CronWorkflows and WorkflowTemplates also go through Argo's own validation
(ARGO001 when Argo would reject them). Exit status: 0 no errors, 1 at least one finding is an error, 2 bad input (the
message names the field).

` + profileHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return &exitError{code: 2, err: fmt.Errorf("-o: expected text or json, got %q", output)}
			}
			engine, obj, err := in.load(cmd.InOrStdin())
			if err != nil {
				return err
			}
			findings, err := engine.Lint(obj)
			if err != nil {
				return inputError(in.file, err)
			}
			if f := lint.ArgoValidation(obj); f != nil {
				findings = append(findings, *f)
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				if findings == nil {
					findings = []emissary.Finding{}
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				err = enc.Encode(findings)
			} else {
				err = writeFindingsText(w, findings)
			}
			if err != nil {
				return err
			}
			if n := emissary.CountErrors(findings); n > 0 {
				return &exitError{code: 1, err: fmt.Errorf("lint: %d error(s) in %s", n, in.file)}
			}
			return nil
		},
	}
	in.addFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// writeFindingsText prints one finding per line: severity, code, template, path, message, hint.
func writeFindingsText(w io.Writer, findings []emissary.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range findings {
		tmpl := f.Template
		if tmpl == "" {
			tmpl = "-"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", f.Severity, f.Code, tmpl, f.Path, f.Message)
		if f.Hint != "" {
			line += " (fix: " + f.Hint + ")"
		}
		if _, err := fmt.Fprintln(tw, line); err != nil {
			return err
		}
	}
	return tw.Flush()
}
