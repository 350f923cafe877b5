// Package recovery decides how the retry of an Argo step that ECI failed should be shaped, from the
// failures of the step's earlier attempts as recorded in the Workflow's node status:
//
//   - after a spot reclaim (BidFailed, ContainerInstanceExpired, or an api-evict eviction) the
//     retry runs pay-as-you-go, unless Options.SpotAfterReclaim, and keeps its place in the spec list;
//   - after an OOMKill the retry gets the next spec with more memory, at most Options.MaxMemorySteps
//     times, and the main container's memory limit grows by the same amount;
//   - after a stock-out (ProviderFailed, NoStock) the retry rotates its specs and vSwitches, fills
//     the spec list up to ECI's five with the next larger specs, and lets spot fall back to
//     pay-as-you-go;
//   - spot pods get k8s.aliyun.com/eci-spot-release-strategy: api-evict (Options.APIEvict), so a
//     reclaim reaches Argo as an eviction.
//
// RetryStrategy (with RetryExpression) is the retryStrategy that retries exactly these failures, so
// a user's own bug still fails fast. Everything here is pure: Attempts gathers a pod's
// step's earlier attempts — from the Workflow's node status, and from the step's other pods
// for attempts the node status does not show yet — and Decide returns a Decision; Decision.Apply writes it
// into the pod.
package recovery
