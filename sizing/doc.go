// Package sizing learns, per Argo template, the ECI spec a step really needs from what its past runs
// used, and serves the result to the webhook and render through the argo-eci-sizing ConfigMap.
//
// On ECI every pod is its own virtual machine billed by its spec, so resources a step declares and
// never uses are paid for on every run. Every run of a template is another sample of the same job:
// this package turns the runs' usage into one recommendation per template.
//
// # Template identity
//
// A template is identified by its namespace, the owner of the workflow that ran it and the template
// name ([Identity]). The owner is the WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow the
// workflow came from (Argo's workflows.argoproj.io/workflow-template, cluster-workflow-template and
// cron-workflow labels, or spec.workflowTemplateRef), else the workflow's generateName prefix, else
// its name. The template name is the one Argo names the pod after (templateRef.template when the
// step uses a templateRef). recommend finds a pod's identity in the Workflow's node statuses, which
// outlive the pods (Argo's GeneratePodName maps a node to its pod name), so pods deleted by podGC
// still count; the webhook finds the same identity from the Workflow and the pod's template.
//
// # Algorithm and defaults
//
// For each run (one pod) the peak CPU (the highest usage rate at the query step) and the peak memory
// working set are measured ([MeasureRun]). A run whose samples cover less than 80 % of its life is
// dropped as a gap, and a template with fewer than 5 usable runs gets no recommendation. Over the
// usable runs ([Recommend]):
//
//   - CPU: the 95th percentile of the per-run peaks plus a 15 % margin, and never below the highest
//     peak seen. The anchors: Kubernetes VPA's recommender targets the 90th percentile with a 15 %
//     safety margin; Crane's percentile predictor uses the 99th percentile × 1.15; KRR's simple
//     strategy the 95th percentile.
//   - Memory: the highest per-run peak plus 15 % (KRR's memory rule, max + 15 %); never below the
//     highest peak. A run killed for memory (OOMKilled) counts as having needed what it had plus
//     VPA's OOM bump: × 1.2, at least + 100 MiB.
//   - The target is rounded to the cheapest ECI spec in the catalog that covers both (list prices of
//     package eci), never below 0.25 vCPU / 0.5 GiB.
//
// Cost per run is the spec's list price times the mean run time, before (the declared spec) and after.
//
// # Time-of-day bands
//
// With Options.Bands the day (in Options.TimeZone) is split into equal bands and each band with
// at least Options.BandMinRuns (10) usable runs of its own is learned the same way from the runs
// started in it, for steps whose load follows a daily cycle. A band's memory is never below the
// highest peak of the bands either side of it, neither target is above the whole template's, and
// bands are kept only when one differs from the whole template's spec. A pod gets the spec of the
// band it is created in ([Table.LookupAt]); other hours, and render, get the whole template's.
//
// Short steps get few samples: a step shorter than two query steps has no CPU rate and is dropped as
// a gap. Kubernetes VPA's maintainers do not recommend VPA for jobs under a minute for the same reason.
package sizing
