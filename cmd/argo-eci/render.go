package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/emissary"
)

// shapeInput holds the flags render and lint share.
type shapeInput struct {
	file     string
	profiles string
}

func (in *shapeInput) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&in.file, "file", "f", "", "workflow file (YAML or JSON; - reads stdin)")
	cmd.Flags().StringVar(&in.profiles, "profiles", "", "profiles.yaml (as in the argo-eci-profiles ConfigMap); default: the built-in profile")
	_ = cmd.MarkFlagRequired("file")
}

// load builds the engine from --profiles and decodes the -f object (stdin for "-"); every error is
// bad input (exit 2) naming the flag or the field.
func (in *shapeInput) load(stdin io.Reader) (*emissary.Engine, runtime.Object, error) {
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
	obj, err := emissary.DecodeObject(data)
	if err != nil {
		return nil, nil, inputError(in.file, err)
	}
	return emissary.NewEngine(profiles), obj, nil
}

// inputError wraps bad user input (unknown profile, invalid annotation, undecodable file) for exit 2.
func inputError(file string, err error) error {
	return &exitError{code: 2, err: fmt.Errorf("%s: %w", file, err)}
}

const profileHelp = `Without --profiles the built-in profile "standard" applies to every workflow:

` + emissary.DefaultProfilesYAML

func newRenderCmd() *cobra.Command {
	var in shapeInput
	cmd := &cobra.Command{
		Use:   "render -f FILE [--profiles FILE]",
		Short: "Apply an ECI profile to a workflow file",
		Long: `render prints a Workflow, CronWorkflow or WorkflowTemplate with an ECI profile applied, ready for
"argo submit -": placement, per-template eci-use-specs computed from the template's resources, spot,
zones, failure strategy, retries, image cache and cost tags are written into the workflow itself,
so a cluster without the argo-eci webhook gets the same pods. It uses the same engine as the webhook;
running the webhook over a rendered workflow changes nothing. Findings go to stderr.

` + profileHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			engine, obj, err := in.load(cmd.InOrStdin())
			if err != nil {
				return err
			}
			shaped, findings, err := engine.ShapeWorkflow(obj)
			if err != nil {
				return inputError(in.file, err)
			}
			out, err := emissary.EncodeYAML(shaped)
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return err
			}
			return writeFindingsText(cmd.ErrOrStderr(), findings)
		},
	}
	in.addFlags(cmd)
	return cmd
}
