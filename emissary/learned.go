package emissary

import (
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/sizing"
)

// WithSizing returns an engine that applies the specs learned from earlier runs (store, the
// argo-eci-sizing ConfigMap) under profiles with sizing: learned. nil: declared specs only.
func (e *Engine) WithSizing(store *sizing.Store) *Engine {
	out := *e
	out.sizing = store
	return &out
}

// learnedFor looks up the learned spec of template id for a pod created at created (the zero
// time: the whole template's spec, not a time-of-day band's); nil under sizing: declared, without
// a store or identity, or when the table has none.
func (e *Engine) learnedFor(p *Profile, id sizing.Identity, ok bool, created time.Time) *sizing.Learned {
	if p.Sizing != SizingLearned || e.sizing == nil || !ok {
		return nil
	}
	l, found := e.sizing.LookupAt(id, created)
	if !found {
		return nil
	}
	return &l
}

// podLearned is the learned spec for a workflow pod of Workflow wf created at created, from the
// time-of-day band it falls in when one was learned (nil wf: no identity, declared).
func (e *Engine) podLearned(p *Profile, wf *wfv1.Workflow, tmpl string, created time.Time) *sizing.Learned {
	if wf == nil || tmpl == "" {
		return nil
	}
	return e.learnedFor(p, sizing.IdentityOf(wf, tmpl), true, created)
}

// objectLearned is the learned spec for template tmpl of an object render shapes. Its pods do not
// exist yet, so it is the whole template's spec, never a time-of-day band's.
func (e *Engine) objectLearned(p *Profile, obj runtime.Object, tmpl string) *sizing.Learned {
	if obj == nil || tmpl == "" {
		return nil
	}
	id, ok := sizing.IdentityOfObject(obj, tmpl)
	return e.learnedFor(p, id, ok, time.Time{})
}

// useLearned reports whether the learned spec decides: only when nothing stronger is set (the
// user's eci-use-specs, argo-eci.io/specs, the profile's explicit specs) and the pod needs no GPU.
func useLearned(p *Profile, s settings, t target) bool {
	if t.learned == nil || p.Specs != nil || t.need.gpu > 0 {
		return false
	}
	if _, ok := t.existing[eci.AnnotationUseSpecs]; ok {
		return false
	}
	_, _, ok := s.get(AnnotationSpecs)
	return !ok
}

// learnedSpecs is the eci-use-specs list of a learned spec: it, then fallbackSpecs larger ones.
func learnedSpecs(p *Profile, l *sizing.Learned) string {
	return eci.FormatSpecList(append([]eci.Spec{l.Spec}, eci.Fallbacks(l.Spec, p.FallbackSpecs)...))
}

// raiseMainMemory raises the memory limit of the main container to the learned spec's memory
// when it is below it: the spec was learned from what the step really used, and a limit below
// that would OOMKill it inside the larger instance. Containers without a memory limit are left.
func raiseMainMemory(containers []corev1.Container, l *sizing.Learned) {
	_, memMiB, ok := eci.SpecSize(l.Spec)
	if !ok {
		return
	}
	want := resource.NewQuantity(memMiB*1024*1024, resource.BinarySI)
	for i := range containers {
		c := &containers[i]
		if c.Name != "main" && c.Name != "" {
			continue
		}
		if cur, has := c.Resources.Limits[corev1.ResourceMemory]; has && cur.Cmp(*want) < 0 {
			c.Resources.Limits[corev1.ResourceMemory] = *want
		}
	}
}
