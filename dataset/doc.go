// Package dataset warms Fluid dataset caches for the argo-eci executor plugin.
//
// A `dataset` template names a Fluid Dataset in the workflow's namespace. On each template.execute
// call the Manager creates the Dataset and its JindoRuntime when the template describes them and they
// do not exist (existing objects are never changed; differences are reported as findings), waits for
// the Dataset to be Bound and for Fluid's one-DataLoad-per-dataset lock (status.operationRef), then
// creates exactly one DataLoad per (workflow UID, template content) and follows it to the end.
//
// The node succeeds when the DataLoad is Complete AND the Dataset reports at least
// minCachedPercentage cached (Fluid can report Complete for a partial load, fluid#633); it fails
// when the DataLoad fails, when the cache stays below the minimum, or on timeout, measured from the
// DataLoad's creationTimestamp so restarts of the plugin do not reset it.
//
// Cost: once the DataLoad exists every call makes two GETs (DataLoad, Dataset). Calls come at the
// adaptive Requeue interval (default every 1 s for the first 10 s, then age/10, at most 15 s), so a
// warm-up costs about 20 GETs in its first minute and 8 per minute after 150 s, and completion is seen
// within one requeue interval.
package dataset
