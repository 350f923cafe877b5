package dataset

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"

	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Placement is where Fluid's loader pod runs: the DataLoad's podMetadata, nodeSelector,
// tolerations, affinity and schedulerName.
type Placement struct {
	PodMetadata   fluidv1.PodMetadata
	NodeSelector  map[string]string
	Tolerations   []corev1.Toleration
	Affinity      *corev1.Affinity
	SchedulerName string
}

// ECIPlacement sends the loader pod to ECI the way ACK does: the pod label alibabacloud.com/eci=true.
func ECIPlacement() Placement {
	return Placement{PodMetadata: fluidv1.PodMetadata{Labels: map[string]string{"alibabacloud.com/eci": "true"}}}
}

// loaderPlacement merges the template's placement over the default: each field the template sets
// replaces the default's, and pod labels and annotations are merged (the template's win).
func (m *Manager) loaderPlacement(l Load) Placement {
	p := ECIPlacement()
	if m.Placement != nil {
		p = *m.Placement
	}
	out := Placement{NodeSelector: p.NodeSelector, Tolerations: p.Tolerations, Affinity: p.Affinity, SchedulerName: p.SchedulerName}
	out.PodMetadata.Labels = maps.Clone(p.PodMetadata.Labels)
	out.PodMetadata.Annotations = maps.Clone(p.PodMetadata.Annotations)
	if l.PodMetadata != nil {
		if out.PodMetadata.Labels == nil && len(l.PodMetadata.Labels) > 0 {
			out.PodMetadata.Labels = map[string]string{}
		}
		maps.Copy(out.PodMetadata.Labels, l.PodMetadata.Labels)
		if out.PodMetadata.Annotations == nil && len(l.PodMetadata.Annotations) > 0 {
			out.PodMetadata.Annotations = map[string]string{}
		}
		maps.Copy(out.PodMetadata.Annotations, l.PodMetadata.Annotations)
	}
	if l.NodeSelector != nil {
		out.NodeSelector = l.NodeSelector
	}
	if l.Tolerations != nil {
		out.Tolerations = l.Tolerations
	}
	if l.Affinity != nil {
		out.Affinity = l.Affinity
	}
	if l.SchedulerName != "" {
		out.SchedulerName = l.SchedulerName
	}
	return out
}

// dataset gets the Dataset; on the attempt's first call it also creates the Dataset and its
// JindoRuntime when the template describes them and reports differences and foreign ownership as
// findings (existing objects are never changed). It returns nil when the Dataset does not exist and
// cannot be created.
func (m *Manager) dataset(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec, a *attempt) (*fluidv1.Dataset, error) {
	nn := types.NamespacedName{Namespace: wf.Namespace, Name: spec.Name}
	ds := &fluidv1.Dataset{}
	err := m.Client.Get(ctx, nn, ds)
	switch {
	case apierrors.IsNotFound(err):
		if len(spec.Mounts) == 0 {
			return nil, nil
		}
		ds = &fluidv1.Dataset{
			ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: wf.Namespace, Labels: labels(wf, ""), OwnerReferences: ownerRefs(wf, spec)},
			Spec:       fluidv1.DatasetSpec{Mounts: spec.Mounts},
		}
		if err := m.Client.Create(ctx, ds); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("create Dataset %s: %w", nn, err)
			}
			if err := m.Client.Get(ctx, nn, ds); err != nil {
				return nil, fmt.Errorf("get Dataset %s: %w", nn, err)
			}
		}
	case err != nil:
		return nil, fmt.Errorf("get Dataset %s: %w", nn, err)
	}
	if a.ensured {
		return ds, nil
	}
	findings := datasetFindings(wf, spec, ds)
	more, err := m.ensureRuntime(ctx, wf, spec)
	if err != nil {
		return nil, err
	}
	a.findings, a.ensured = append(findings, more...), true
	return ds, nil
}

// datasetFindings reports an existing Dataset that differs from the template or belongs to another workflow.
func datasetFindings(wf executorplugins.ObjectMeta, spec *Spec, ds *fluidv1.Dataset) []string {
	var findings []string
	if owner := ds.Labels[LabelWorkflowUID]; owner != "" && owner != wf.UID {
		f := fmt.Sprintf("Dataset %s was created by workflow %s and is reused", ds.Name, ds.Labels[LabelWorkflow])
		for _, ref := range ds.OwnerReferences {
			if ref.Kind == "Workflow" {
				f += fmt.Sprintf("; it is deleted when workflow %s is deleted", ref.Name)
			}
		}
		findings = append(findings, f)
	}
	if len(spec.Mounts) > 0 {
		if diff := subsetDiff("spec.mounts", spec.Mounts, ds.Spec.Mounts); len(diff) > 0 {
			findings = append(findings, fmt.Sprintf("existing Dataset %s differs from the template at %s and was left unchanged",
				spec.Name, strings.Join(diff, ", ")))
		}
	}
	return findings
}

// ensureRuntime creates the JindoRuntime from the template's allow-listed fields when it is missing.
func (m *Manager) ensureRuntime(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec) ([]string, error) {
	if spec.Runtime == nil {
		return nil, nil
	}
	nn := types.NamespacedName{Namespace: wf.Namespace, Name: spec.Name}
	want := spec.Runtime.JindoRuntimeSpec()
	rt := &fluidv1.JindoRuntime{}
	err := m.Client.Get(ctx, nn, rt)
	switch {
	case err == nil:
		if diff := subsetDiff("spec", want, rt.Spec); len(diff) > 0 {
			return []string{fmt.Sprintf("existing JindoRuntime %s differs from the template at %s and was left unchanged",
				spec.Name, strings.Join(diff, ", "))}, nil
		}
		return nil, nil
	case apierrors.IsNotFound(err):
		rt = &fluidv1.JindoRuntime{
			ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: wf.Namespace, Labels: labels(wf, ""), OwnerReferences: ownerRefs(wf, spec)},
			Spec:       want,
		}
		if err := m.Client.Create(ctx, rt); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create JindoRuntime %s: %w", nn, err)
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("get JindoRuntime %s: %w", nn, err)
	}
}

// createDataLoad creates the attempt's own DataLoad, or returns it when a concurrent call made it.
func (m *Manager) createDataLoad(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec, key string, a *attempt) (*fluidv1.DataLoad, error) {
	dl := m.newDataLoad(wf, spec, key, DataLoadName(spec.Name, key, a.n), a.findings)
	if err := m.Client.Create(ctx, dl); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create DataLoad %s/%s: %w", wf.Namespace, dl.Name, err)
		}
		got, err := m.getDataLoad(ctx, wf.Namespace, dl.Name)
		if err != nil {
			return nil, err
		}
		if got == nil {
			return nil, fmt.Errorf("DataLoad %s/%s exists and then does not: %w", wf.Namespace, dl.Name, apierrors.NewNotFound(fluidv1.GroupVersion.WithResource("dataloads").GroupResource(), dl.Name))
		}
		return got, nil
	}
	return dl, nil
}

func (m *Manager) newDataLoad(wf executorplugins.ObjectMeta, spec *Spec, key, name string, findings []string) *fluidv1.DataLoad {
	paths := spec.Load.Paths
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	targets := make([]fluidv1.TargetPath, 0, len(paths))
	for _, p := range paths {
		targets = append(targets, fluidv1.TargetPath{Path: p, Replicas: spec.Load.Replicas})
	}
	ttl := spec.TTL()
	place := m.loaderPlacement(spec.Load)
	dl := &fluidv1.DataLoad{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       wf.Namespace,
			Labels:          labels(wf, key),
			OwnerReferences: ownerRefs(wf, spec),
		},
		Spec: fluidv1.DataLoadSpec{
			Dataset:                 fluidv1.TargetDataset{Name: spec.Name, Namespace: wf.Namespace},
			LoadMetadata:            spec.Load.LoadMetadata,
			Target:                  targets,
			Options:                 spec.Load.Options,
			Policy:                  fluidv1.Once,
			TTLSecondsAfterFinished: &ttl,
			PodMetadata:             place.PodMetadata,
			NodeSelector:            place.NodeSelector,
			Tolerations:             place.Tolerations,
			Affinity:                place.Affinity,
			SchedulerName:           place.SchedulerName,
		},
	}
	if len(findings) > 0 {
		dl.Annotations = map[string]string{AnnotationFindings: strings.Join(findings, "\n")}
	}
	return dl
}

// subsetDiff lists the JSON paths where want (what the template asked for) is not matched by have
// (what exists). Fields the template leaves out are not compared, so apiserver defaults are no finding.
func subsetDiff(root string, want, have any) []string {
	var w, h any
	wb, _ := json.Marshal(want)
	hb, _ := json.Marshal(have)
	_ = json.Unmarshal(wb, &w)
	_ = json.Unmarshal(hb, &h)
	var out []string
	walkDiff(root, w, h, &out)
	sort.Strings(out)
	return out
}

func walkDiff(path string, w, h any, out *[]string) {
	switch wv := w.(type) {
	case map[string]any:
		hv, ok := h.(map[string]any)
		if !ok {
			*out = append(*out, path)
			return
		}
		for k, x := range wv {
			walkDiff(path+"."+k, x, hv[k], out)
		}
	case []any:
		hv, ok := h.([]any)
		if !ok || len(hv) != len(wv) {
			*out = append(*out, path)
			return
		}
		for i := range wv {
			walkDiff(fmt.Sprintf("%s[%d]", path, i), wv[i], hv[i], out)
		}
	default:
		if fmt.Sprint(w) != fmt.Sprint(h) {
			*out = append(*out, path)
		}
	}
}
