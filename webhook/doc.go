// Package webhook serves argo-eci's HTTPS mutating admission webhook.
//
// Two endpoints take admission.k8s.io/v1 AdmissionReviews from the kube-apiserver:
//
//   - POST /mutate/pods shapes the pods Argo's controller creates (workflow pods, the agent pod,
//     artifact-GC pods, as emissary.ArgoPodKind classifies them) for Alibaba Cloud ECI; every
//     other pod is allowed untouched.
//   - POST /mutate/workflows shapes Workflow, CronWorkflow and WorkflowTemplate objects on create
//     and update, adding what only the workflow can carry (retry strategies, podMetadata,
//     podSpecPatch).
//
// The shaping itself is done by package emissary; this package adds the server around it: TLS
// from a mounted directory with reload (controller-runtime's certwatcher), JSON patches that carry
// only the engine's changes (typed object before and after shaping) into the object exactly as
// the apiserver sent it, so fields the Go types do not know are never touched, capped request
// bodies and reviews in flight, panic recovery, profile reload from a file or the
// argo-eci-profiles ConfigMap, an informer cache of the Workflows that can still create pods (one
// direct read on a miss), a drain on shutdown, health endpoints and Prometheus metrics.
//
// Every engine outcome and every error is turned into an AdmissionResponse in one function,
// [response]: shaped pods are allowed with a patch, skipped pods are allowed as they are,
// profile denials are refused with 403, undecodable objects with 400 and internal faults
// (including recovered panics) with 500. Warning-severity findings travel back to the user as
// AdmissionResponse warnings, which kubectl and the Argo controller's logs show.
//
// Failure policy: register both webhooks with failurePolicy Fail. When the webhook is down the
// apiserver refuses pod creation, Argo's controller retries it, and no pod ever runs unshaped;
// with Ignore a pod created during an outage would land on a normal node with no ECI annotations,
// which ECI cannot fix later because its annotations apply only at creation.
package webhook
