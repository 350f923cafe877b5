package emissary

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/recovery"
)

// maxAgentPatchRate bounds agent.patchRate: the controller's own default is 10 s, and a slower
// agent only delays every plugin result.
const maxAgentPatchRate = time.Minute

// agentDoc is the profile's agent section: settings of Argo's agent pod.
type agentDoc struct {
	// PatchRate is a Go duration ("1s"); "0s" leaves the controller's value.
	PatchRate *string `json:"patchRate,omitempty"`
}

func (a *agentDoc) patchRate() (time.Duration, error) {
	if a.PatchRate == nil {
		return 0, nil
	}
	return time.ParseDuration(*a.PatchRate)
}

// Validate checks the agent settings.
func (a *agentDoc) Validate(fp *field.Path) field.ErrorList {
	if a.PatchRate == nil {
		return nil
	}
	d, err := a.patchRate()
	if err != nil || d < 0 || d > maxAgentPatchRate {
		return field.ErrorList{field.Invalid(fp.Child("patchRate"), *a.PatchRate,
			fmt.Sprintf("expected a duration from 0s (leave the controller's value) to %s, such as 1s", maxAgentPatchRate))}
	}
	return nil
}

// recoveryDoc is the profile's recovery section; absent fields keep recovery.DefaultOptions.
type recoveryDoc struct {
	SpotAfterReclaim *bool `json:"spotAfterReclaim,omitempty"`
	MaxMemorySteps   *int  `json:"maxMemorySteps,omitempty"`
	APIEvict         *bool `json:"apiEvict,omitempty"`
}

func (r *recoveryDoc) options() recovery.Options {
	o := recovery.DefaultOptions()
	if r.SpotAfterReclaim != nil {
		o.SpotAfterReclaim = *r.SpotAfterReclaim
	}
	if r.MaxMemorySteps != nil {
		o.MaxMemorySteps = *r.MaxMemorySteps
	}
	if r.APIEvict != nil {
		o.APIEvict = *r.APIEvict
	}
	return o
}
