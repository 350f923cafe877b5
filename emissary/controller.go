package emissary

import (
	"encoding/json"
	"fmt"
	"sort"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// ControllerConfig is the part of Argo's workflow-controller ConfigMap that changes the pods the
// controller builds, and so what render must count: mainContainer defaults (merged into every
// main container), executor (the init and wait containers, resources included) and Argo v4.1's
// initlessPod layout (a supervisor container instead of init and wait, one artifact-plugin
// sidecar per plugin of inputs or outputs). A workflow file does not show them; without a
// ControllerConfig render assumes Argo's defaults.
type ControllerConfig struct {
	MainContainer *corev1.Container `json:"mainContainer,omitempty"`
	Executor      *corev1.Container `json:"executor,omitempty"`
	InitlessPod   *initlessPod      `json:"initlessPod,omitempty"`
	// ArtifactRepository is the default repository: when it is a plugin, key-only output
	// artifacts and archived logs use it, and the controller adds its sidecar.
	ArtifactRepository *wfv1.ArtifactRepository `json:"artifactRepository,omitempty"`
}

type initlessPod struct {
	Enabled bool `json:"enabled"`
}

// Initless reports Argo v4.1's initless pod layout.
func (c *ControllerConfig) Initless() bool {
	return c != nil && c.InitlessPod != nil && c.InitlessPod.Enabled
}

// ParseControllerConfig reads the workflow-controller ConfigMap (the object, whose data holds
// either a whole "config" or one key per setting) or the config document itself. Other settings
// are ignored. Errors are *badinput.Error naming the key.
func ParseControllerConfig(data []byte) (*ControllerConfig, error) {
	var head struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fieldError("controller config", "malformed YAML: "+err.Error())
	}
	cc := &ControllerConfig{}
	if head.Kind != "ConfigMap" {
		if err := yaml.Unmarshal(data, cc); err != nil {
			return nil, fieldError("controller config", err.Error())
		}
		return cc, nil
	}
	if cfg, ok := head.Data["config"]; ok {
		if err := yaml.Unmarshal([]byte(cfg), cc); err != nil {
			return nil, fieldError("data.config", err.Error())
		}
	}
	for key, dst := range map[string]any{"mainContainer": &cc.MainContainer, "executor": &cc.Executor, "initlessPod": &cc.InitlessPod,
		"artifactRepository": &cc.ArtifactRepository} {
		if v, ok := head.Data[key]; ok {
			if err := yaml.Unmarshal([]byte(v), dst); err != nil {
				return nil, fieldErrorf("data."+key, "%v", err)
			}
		}
	}
	return cc, nil
}

// WithControllerConfig returns an engine that renders for a controller with this configuration.
func (e *Engine) WithControllerConfig(cc *ControllerConfig) *Engine {
	out := *e
	out.controller = cc
	return &out
}

// mainDefaults merges mainContainer defaults into the first n containers (the main containers),
// as the controller does (a strategic merge of the defaults and the container).
func (c *ControllerConfig) mainDefaults(containers []corev1.Container, n int) error {
	if c == nil || c.MainContainer == nil {
		return nil
	}
	a, err := json.Marshal(c.MainContainer)
	if err != nil {
		return err
	}
	for i := 0; i < n && i < len(containers); i++ {
		b, err := json.Marshal(containers[i])
		if err != nil {
			return err
		}
		merged, err := strategicpatch.StrategicMergePatch(a, b, corev1.Container{})
		if err != nil {
			return fmt.Errorf("mainContainer defaults: %w", err)
		}
		var out corev1.Container
		if err := json.Unmarshal(merged, &out); err != nil {
			return err
		}
		containers[i] = out
	}
	return nil
}

// auxContainerName is Argo's executor sidecar in this controller's layout.
func (c *ControllerConfig) auxContainerName() string {
	if c.Initless() {
		return SupervisorContainerName
	}
	return common.WaitContainerName
}

// executorContainers are the containers the controller adds to a template's pod from its executor
// settings: init (legacy layout) and the wait or supervisor sidecar, with executor.resources.
func (c *ControllerConfig) executorContainers(hasAux bool) (inits, sidecars []corev1.Container) {
	var res corev1.ResourceRequirements
	if c != nil && c.Executor != nil {
		res = c.Executor.Resources
	}
	if !c.Initless() {
		inits = append(inits, corev1.Container{Name: common.InitContainerName, Resources: res})
	}
	if hasAux {
		sidecars = append(sidecars, corev1.Container{Name: c.auxContainerName(), Resources: res})
	}
	return inits, sidecars
}

// pluginSidecarsFor names the artifact-plugin sidecars of t's pod in this controller's layout:
// output plugins in the legacy layout (pluginSidecars), input and output plugins when initless,
// with the default artifact repository's plugin when the configuration names one.
func (c *ControllerConfig) pluginSidecarsFor(t *wfv1.Template) []string {
	var repo *wfv1.ArtifactRepository
	if c != nil {
		repo = c.ArtifactRepository
	}
	out := pluginSidecars(t, repo)
	if !c.Initless() {
		return out
	}
	seen := map[string]bool{}
	for _, n := range out {
		seen[n] = true
	}
	for _, n := range t.Inputs.Artifacts.GetPluginNames(quietCtx, repo, wfv1.ExcludeLogs, t.ArchiveLocation) {
		name := common.ArtifactPluginSidecarPrefix + string(n)
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// mainCount is how many of templateContainers' containers are main containers.
func mainCount(t *wfv1.Template) int {
	switch {
	case t.Container != nil, t.Script != nil:
		return 1
	case t.ContainerSet != nil:
		return len(t.ContainerSet.Containers)
	}
	return 0
}
