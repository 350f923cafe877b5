package emissary

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// specPatch is a podSpecPatch (workflow or template level) as argo-eci reads it: parsed, not
// searched as text. A patch holding {{...}} expressions is parsed with each expression replaced by
// 0, which keeps its structure (which fields it sets) but not its values.
type specPatch struct {
	spec          *corev1.PodSpec
	parameterised bool
	path          string // field path of the podSpecPatch
}

var expressionRE = regexp.MustCompile(`\{\{[^}]*\}\}`)

// readPatch parses a podSpecPatch written as JSON or YAML. An empty patch gives nil.
func readPatch(patch, path string) (*specPatch, error) {
	if strings.TrimSpace(patch) == "" {
		return nil, nil
	}
	p := &specPatch{path: path, parameterised: strings.Contains(patch, "{{")}
	text := patch
	if p.parameterised {
		text = expressionRE.ReplaceAllString(patch, "0")
	}
	raw, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("%s is not YAML/JSON: %w", path, err)
	}
	var spec corev1.PodSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("%s is not a PodSpec: %w", path, err)
	}
	p.spec = &spec
	return p, nil
}

// setsResources reports whether the patch sets any container's resources.
func (p *specPatch) setsResources() bool {
	if p == nil {
		return false
	}
	for _, list := range [][]corev1.Container{p.spec.InitContainers, p.spec.Containers} {
		for _, c := range list {
			if len(c.Resources.Limits) > 0 || len(c.Resources.Requests) > 0 {
				return true
			}
		}
	}
	return false
}

// applyResources merges the patch's container resources into the containers of the same name,
// as the controller's strategic merge does. Only literal patches are applied.
func (p *specPatch) applyResources(inits, containers []corev1.Container) {
	if p == nil || p.parameterised {
		return
	}
	merge := func(dst []corev1.Container, src []corev1.Container) {
		for _, s := range src {
			for i := range dst {
				if dst[i].Name != s.Name {
					continue
				}
				r := dst[i].Resources.DeepCopy()
				for k, v := range s.Resources.Limits {
					if r.Limits == nil {
						r.Limits = corev1.ResourceList{}
					}
					r.Limits[k] = v
				}
				for k, v := range s.Resources.Requests {
					if r.Requests == nil {
						r.Requests = corev1.ResourceList{}
					}
					r.Requests[k] = v
				}
				dst[i].Resources = *r
			}
		}
	}
	merge(inits, p.spec.InitContainers)
	merge(containers, p.spec.Containers)
}

// incompatibilities lists what the patch asks for that ECI cannot run: hostNetwork, hostPath
// volumes, privileged containers.
func (p *specPatch) incompatibilities() []incompatibility {
	if p == nil {
		return nil
	}
	var out []incompatibility
	if p.spec.HostNetwork {
		out = append(out, incompatibility{CodeHostNetwork, "hostNetwork", p.path + " hostNetwork", "remove hostNetwork; ECI pods get their own VPC address"})
	}
	for _, vol := range p.spec.Volumes {
		if vol.HostPath != nil {
			out = append(out, incompatibility{CodeHostPath, "hostPath volume " + vol.Name, p.path + " volumes[" + vol.Name + "].hostPath",
				"use an emptyDir, a PVC (NAS/OSS/Fluid) or an artifact instead"})
		}
	}
	for _, list := range [][]corev1.Container{p.spec.InitContainers, p.spec.Containers} {
		for _, c := range list {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				out = append(out, incompatibility{CodePrivileged, "privileged container " + c.Name, p.path + " containers[" + c.Name + "].securityContext.privileged",
					"drop privileged or add only the capabilities needed"})
			}
		}
	}
	return out
}
