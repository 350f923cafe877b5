package emissary

// Severity ranks a Finding.
type Severity string

// Severities. Lint exits 1 when any finding is an error.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Finding is one ECI problem or decision worth telling the user about.
type Finding struct {
	// Code is stable across releases (ECI001…); see the Code* constants.
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Object names the object of a multi-object stream ("Workflow hello-", "document 2"); "" for one.
	Object string `json:"object,omitempty"`
	// Template is the Argo template the finding is about ("" for the whole workflow or pod).
	Template string `json:"template,omitempty"`
	// Path is the field path, e.g. spec.templates[2].container.resources.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint,omitempty"`
}

// Finding codes. They never change meaning; new ones get new numbers.
const (
	CodeBadInput          = "ECI000" // the input could not be read (lint -o json reports it as a finding)
	CodeHostPath          = "ECI001" // hostPath volume: not supported on ECI
	CodeHostNetwork       = "ECI002" // hostNetwork: not supported on ECI
	CodePrivileged        = "ECI003" // privileged container: needs a ticket on ECI
	CodeNoCommand         = "ECI010" // template without command: controller looks the entrypoint up in the registry
	CodeWaitBumpsSpec     = "ECI020" // the wait sidecar pushes the pod into a larger spec
	CodeNoResources       = "ECI021" // no resources: billed as 2-4Gi by default
	CodeGPUNeedsType      = "ECI022" // GPU without explicit ECS instance types
	CodeSpecTooLarge      = "ECI023" // resources exceed the largest ECI spec
	CodeUserSpecs         = "ECI024" // spec set by the user's own annotation; kept
	CodeSpecTooSmall      = "ECI025" // the first explicit spec cannot hold the pod's billed sum
	CodeSpotNoRetry       = "ECI030" // spot without retries: a reclaimed pod fails the workflow
	CodeFanOutNoIMC       = "ECI040" // fan-out over 20 pods without image cache
	CodeFluidNoSidecar    = "ECI050" // Fluid dataset PVC without serverless sidecar injection
	CodeNotShaped         = "ECI060" // workflow left alone: argo-eci.io/skip or no profile selected
	CodeAgentStays        = "ECI061" // agent pod left on normal nodes (agentPod: stay)
	CodeTemplateRef       = "ECI062" // templates in another object (templateRef, workflowTemplateRef): not shaped by render
	CodePodSpecPatchBad   = "ECI070" // a template's podSpecPatch could not be extended
	CodeSchedulerKept     = "ECI071" // a custom schedulerName was kept
	CodeNodeSelectorNoECI = "ECI072" // a nodeSelector no ECI virtual node can match
	CodeUnknownField      = "ECI080" // a field Argo v4.0.7 does not know (older or newer Argo): kept as written
	CodeOtherKind         = "ECI081" // an object of another kind in the stream: passed through
	CodeTooLarge          = "ECI090" // the shaped object exceeds the size the apiserver stores
)

// CountErrors counts the findings with SeverityError.
func CountErrors(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}
