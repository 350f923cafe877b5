// Package emissary shapes Argo Workflows pods and workflows for Alibaba Cloud ECI.
//
// An [Engine], built from [Profiles], decides for one pod created by the Argo controller (a workflow
// pod, the agent pod or an artifact-GC pod) where it runs and how ECI bills it: placement (label,
// eci-scheduler or nodeSelector), the spec list computed from the containers the way ECI sums them,
// spot, zones, failure strategy, image cache, storage, RAM role and cost tags. It keeps every
// invariant of Argo's emissary executor: container names and order, the init/wait/main roles, the
// var-run-argo and tmp-dir-argo volumes, main's rewritten command, and Argo's labels, annotations
// and owner references. The same engine renders whole Workflows, CronWorkflows and
// WorkflowTemplates so that a cluster without the webhook gets the same pods, and lints them.
//
// What the engine wrote is recorded in argo-eci.io/decision (profile, keys, digest of their values),
// so a later pass decides those keys again instead of taking them for the user's; see
// AnnotationDecision. Render edits the user's document (ParseStream, Stream.Update) so that
// everything argo-eci does not own stays as written.
//
// The package is pure: no I/O, no clocks, no globals that change. Inputs are never mutated.
//
// Precedence, strongest first: the pod's own k8s.aliyun.com/* annotations (never overwritten),
// template annotations (argo-eci.io/* in a template's metadata; on a pod they arrive as pod
// annotations), workflow annotations, the profile, built-in defaults. The profile is the one
// named by argo-eci.io/profile, else the one whose selector lists the namespace, else the default;
// with none, nothing is changed.
//
// The spec is computed the way ECI bills: per container the limit, else the request, summed over
// the regular containers; each init container runs alone, so the pod needs the larger of the
// biggest init phase and the sum; containers carrying __ECI_RESOURCE_IGNORE__=TRUE are left out
// (with executorResources: ignore that is Argo's wait, v4.1's supervisor and the artifact-plugin
// sidecars). The spec asked for is the cheapest catalog spec covering both CPU and memory
// (eci.Cheapest), followed by fallbackSpecs more: the next cheapest catalog specs that still cover
// it (eci.Fallbacks), so a stock-out costs as little extra as possible. Pods whose own containers state no CPU or memory
// get ECI's 2-4Gi default (and a finding); GPU pods get no computed spec (ECI cannot pick a GPU
// from vCPU/memory) but an error finding asking for GPU instance types.
//
// Bad input (unknown profile, invalid argo-eci.io/* values or specs, argo-eci.io/specs and
// eci-use-specs disagreeing side by side, a malformed profiles.yaml) is a *badinput.Error naming the
// field. Everything else worth telling is a Finding with a stable code (see the Code constants).
package emissary
