package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/argo-eci/argo-eci/badinput"
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
			w := cmd.OutOrStdout()
			findings, err := lintInput(&in, cmd.InOrStdin())
			if err != nil {
				if output == "json" {
					_ = writeFindingsJSON(w, []emissary.Finding{badInputFinding(err)})
				}
				return err
			}
			if output == "json" {
				err = writeFindingsJSON(w, findings)
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

// lintInput lints every object of the -f stream: Argo workflow objects with the engine, Argo's
// own validation and their unknown fields; Pods with the engine; other kinds get a note.
func lintInput(in *shapeInput, stdin io.Reader) ([]emissary.Finding, error) {
	engine, stream, err := in.load(stdin)
	if err != nil {
		return nil, err
	}
	var all []emissary.Finding
	for _, o := range stream.Objects {
		var findings []emissary.Finding
		switch {
		case o.Object == nil:
			findings = []emissary.Finding{{Code: emissary.CodeOtherKind, Severity: emissary.SeverityInfo, Path: o.Where,
				Message: fmt.Sprintf("%s %s is not an Argo workflow object: passed through by render", o.Kind, o.Name)}}
		default:
			if findings, err = engine.Lint(o.Object); err != nil {
				return nil, inputError(in.file+" "+o.Where, err)
			}
			upgraded, err := o.Upgraded()
			if err != nil {
				return nil, inputError(in.file+" "+o.Where, err)
			}
			if f := lint.ArgoValidation(upgraded); f != nil {
				findings = append(findings, *f)
			}
			findings = append(findings, emissary.UnknownFieldFindings(o)...)
		}
		for i := range findings {
			findings[i].Object = objectName(stream, o)
		}
		all = append(all, findings...)
	}
	return all, nil
}

// badInputFinding reports an input error as a finding, for -o json.
func badInputFinding(err error) emissary.Finding {
	f := emissary.Finding{Code: emissary.CodeBadInput, Severity: emissary.SeverityError, Message: err.Error()}
	var fe *badinput.Error
	if errors.As(err, &fe) {
		f.Path, f.Message = fe.Field(), fe.Message()
	}
	return f
}

func writeFindingsJSON(w io.Writer, findings []emissary.Finding) error {
	if findings == nil {
		findings = []emissary.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(findings)
}

// writeFindingsText prints one finding per line: severity, code, template, path, message, hint.
func writeFindingsText(w io.Writer, findings []emissary.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range findings {
		tmpl := f.Template
		if tmpl == "" {
			tmpl = "-"
		}
		if f.Object != "" {
			tmpl = f.Object + ": " + tmpl
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
