package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/argo-eci/argo-eci/emissary"
)

// shapeInput holds the flags render and lint share.
type shapeInput struct {
	file       string
	profiles   string
	controller string
	sizing     string
}

func (in *shapeInput) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&in.file, "file", "f", "", "workflow file (YAML or JSON; - reads stdin)")
	cmd.Flags().StringVar(&in.profiles, "profiles", "", "profiles.yaml (as in the argo-eci-profiles ConfigMap); default: the built-in profile")
	cmd.Flags().StringVar(&in.controller, "controller-config", "", "the workflow-controller ConfigMap (or its config): mainContainer/executor defaults and initlessPod change the pods render shapes")
	cmd.Flags().StringVar(&in.sizing, "sizing", "", "the argo-eci-sizing ConfigMap as YAML: learned specs for profiles with sizing: learned")
	_ = cmd.MarkFlagRequired("file")
}

// load builds the engine from --profiles and parses the -f stream (stdin for "-"); every error is
// bad input (exit 2) naming the flag, the document or the field.
func (in *shapeInput) load(stdin io.Reader) (*emissary.Engine, *emissary.Stream, error) {
	profiles := emissary.DefaultProfiles()
	if in.profiles != "" {
		data, err := os.ReadFile(in.profiles)
		if err != nil {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("--profiles: %w", err)}
		}
		if profiles, err = emissary.ParseProfiles(data); err != nil {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("%s: %w", in.profiles, err)}
		}
	}
	var data []byte
	var err error
	if in.file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(in.file)
	}
	if err != nil {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("-f: %w", err)}
	}
	stream, err := emissary.ParseStream(data)
	if err != nil {
		return nil, nil, inputError(in.file, err)
	}
	engine := emissary.NewEngine(profiles)
	if in.controller != "" {
		data, err := os.ReadFile(in.controller)
		if err != nil {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("--controller-config: %w", err)}
		}
		cc, err := emissary.ParseControllerConfig(data)
		if err != nil {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("%s: %w", in.controller, err)}
		}
		engine = engine.WithControllerConfig(cc)
	}
	if engine, err = in.withSizing(engine); err != nil {
		return nil, nil, err
	}
	return engine, stream, nil
}

// objectName names a stream object in findings when the stream holds more than one.
func objectName(s *emissary.Stream, o *emissary.StreamObject) string {
	if len(s.Objects) == 1 {
		return ""
	}
	return o.Kind + " " + o.Name
}

// renderStream shapes every Argo workflow object of the stream in place; Pods and other kinds
// pass through untouched. It returns the findings, with an error finding for each shaped object
// larger than maxBytes (0: no limit), which the apiserver would refuse to store.
func renderStream(engine *emissary.Engine, stream *emissary.Stream, file string, maxBytes int) ([]emissary.Finding, error) {
	var all []emissary.Finding
	for _, o := range stream.Objects {
		if o.Object == nil || o.Kind == "Pod" {
			continue
		}
		shaped, findings, err := engine.ShapeWorkflow(o.Object)
		if err != nil {
			return nil, inputError(file+" "+o.Where, err)
		}
		if err := stream.Update(o, shaped); err != nil {
			return nil, err
		}
		findings = append(findings, emissary.UnknownFieldFindings(o)...)
		size, err := emissary.ObjectSize(shaped)
		if err != nil {
			return nil, err
		}
		if f := emissary.SizeFinding(o.Kind, size, maxBytes); f != nil {
			findings = append(findings, *f)
		}
		for i := range findings {
			findings[i].Object = objectName(stream, o)
		}
		all = append(all, findings...)
	}
	return all, nil
}

// inputError wraps bad user input (unknown profile, invalid annotation, undecodable file) for exit 2.
func inputError(file string, err error) error {
	return &exitError{code: 2, err: fmt.Errorf("%s: %w", file, err)}
}

const profileHelp = `Without --profiles the built-in profile "standard" applies to every workflow:

` + emissary.DefaultProfilesYAML

func newRenderCmd() *cobra.Command {
	var in shapeInput
	var diff bool
	var maxBytes int
	cmd := &cobra.Command{
		Use:   "render -f FILE [--profiles FILE]",
		Short: "Apply an ECI profile to a workflow file",
		Long: `render prints a Workflow, CronWorkflow or WorkflowTemplate (or a YAML/JSON stream of them, List
objects included; other kinds pass through) with an ECI profile applied, ready for "argo submit -": placement, per-template eci-use-specs computed from the template's resources, spot,
zones, failure strategy, retries, image cache and cost tags are written into the workflow itself,
so a cluster without the argo-eci webhook gets the same pods. It uses the same engine as the webhook;
running the webhook over a rendered workflow changes nothing. Only argo-eci's additions are written:
the rest of the document (comments, field order, fields of other Argo versions) stays as written.
Findings go to stderr; exit 1 when one is an error, 2 on bad input. A rendered object larger than
--max-object-bytes is an error (ECI090): the apiserver would refuse to store it.

` + profileHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			engine, stream, err := in.load(cmd.InOrStdin())
			if err != nil {
				return err
			}
			var before []byte
			if diff {
				if before, err = stream.Encode(); err != nil {
					return err
				}
			}
			findings, err := renderStream(engine, stream, in.file, maxBytes)
			if err != nil {
				return err
			}
			out, err := stream.Encode()
			if err != nil {
				return err
			}
			if diff {
				out = []byte(lineDiff(string(before), string(out)))
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return err
			}
			if err := writeFindingsText(cmd.ErrOrStderr(), findings); err != nil {
				return err
			}
			if n := emissary.CountErrors(findings); n > 0 {
				// render | argo submit - must stop: the workflow would fail or be denied on ECI.
				return &exitError{code: 1, err: fmt.Errorf("render: %d error finding(s) in %s", n, in.file)}
			}
			return nil
		},
	}
	in.addFlags(cmd)
	cmd.Flags().BoolVar(&diff, "diff", false, "print only what render changes, as a line diff of the stream")
	cmd.Flags().IntVar(&maxBytes, "max-object-bytes", emissary.DefaultMaxObjectBytes,
		"largest rendered object, as JSON, that render accepts (etcd refuses requests over 1.5 MiB by default); 0: no limit")
	return cmd
}
