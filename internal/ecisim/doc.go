// Package ecisim is an ECI simulator for tests and the local demo: a small controller that plays
// Alibaba Cloud ECI's side for pods bound to a kwok virtual node, from ECI's documented behaviour.
//
// For a Pending pod on a managed node (annotation eci-simulator.argo-eci.io/managed: "true") it
// reads k8s.aliyun.com/eci-use-specs (in order; without it the pod's resources rounded up to
// ECI's catalog), eci-vswitch and eci-schedule-strategy (VSwitchOrdered | VSwitchRandom), the spot
// annotations (strategy, price limit, protection hours, fallback, release strategy),
// eci-fail-strategy and eci-max-pending-minute, and looks each (spec, zone, spot or pay-as-you-go)
// up in a stock table. When it finds stock it writes back what ECI writes — eci-instance-id,
// eci-instance-spec, eci-matched-image-cache — plus the zone, vSwitch and market it chose under
// eci-simulator.argo-eci.io/, which is the signal kwok's stages wait for before running the pod.
// When nothing listed has stock the pod fails at once with ProviderFailed under fail-fast, and
// otherwise stays Pending (condition ContainerInstanceCreated=False, reason NoStock) until stock
// appears or eci-max-pending-minute passes.
//
// For a Running spot pod, after its protection period the simulator checks every 5 minutes; a pod
// picked for reclaim (a configured fraction, or its stock gone) gets the SpotToBeReleased event
// and the ContainerInstanceExpired condition, and about 3 minutes later fails with reason BidFailed
// — or is evicted through the Eviction API when eci-spot-release-strategy is api-evict. A Running
// pod whose simulated memory use (annotation eci-simulator.argo-eci.io/memory-use) exceeds its
// billed spec's memory or its main container's memory limit is OOMKilled.
//
// ECI's minute-scale times (protection hour, 5-minute checks, 3-minute notice, pending minutes)
// are divided by Config.TimeScale. The stock table and everything else live in a ConfigMap named
// eci-simulator (key config.yaml) in the pod's namespace or, failing that, in the simulator's own
// namespace; tests change it while the simulator runs. Every decision is logged and recorded as an
// event on the pod (source component eci-simulator).
//
// It is a test stand-in: nothing in the argo-eci binary imports it.
package ecisim
