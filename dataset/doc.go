// Package dataset warms Fluid dataset caches for the argo-eci executor plugin.
//
// A `dataset` template names a Fluid Dataset in the workflow's namespace. On each template.execute
// call the Manager creates the Dataset and its JindoRuntime (from an allow-listed part of the
// runtime spec) when the template describes them and they do not exist; existing objects are never
// changed, and differences or another workflow's ownership are reported as findings. Then:
//
//   - a Bound Dataset already cached at or above the minimum succeeds at once, without a DataLoad;
//   - a Pending or Executing DataLoad covering the same paths is followed (Fluid v1.0.8 has no
//     per-dataset lock: status.operationRef is a comma list);
//   - otherwise the attempt's own DataLoad is created at once, with ttlSecondsAfterFinished and the
//     loader's placement (ECI by default), and followed to the end.
//
// Fluid re-checks DataLoads about every 20 s, copies the loader Job's finish time into Complete, and
// refreshes the Dataset's cache states only in its periodic runtime sync, so a Complete load whose
// cache looks short is judged only after a refresh newer than the moment the plugin first saw
// Complete (or a settle window): short of minCachedPercentage is a warning unless onCacheShort is
// "fail". The agent's request carries no node ID; an answered attempt marks its DataLoad, so a
// retried node gets a new DataLoad and a new timeout.
//
// Cost: 2 GETs per poll (Dataset, DataLoad) at polls every 1–2 s (internal/requeue), so the end of a
// load is seen within 2 s.
package dataset
