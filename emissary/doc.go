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
// The package is pure: no I/O, no clocks, no globals that change. Inputs are never mutated.
//
// Precedence, strongest first: the pod's own k8s.aliyun.com/* annotations (never overwritten),
// template annotations (argo-eci.io/* in a template's metadata; on a pod they arrive as pod
// annotations), workflow annotations, the profile, built-in defaults.
package emissary
