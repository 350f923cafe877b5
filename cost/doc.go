// Package cost computes what Argo workflows cost on ECI from their pods and the Workflow's node
// statuses: the billed spec ECI wrote back (k8s.aliyun.com/eci-instance-spec), spot or
// pay-as-you-go, the seconds billed from the instance's creation to its last container's end, and
// CNY at list price and at the spot price — per workflow and per template, with retries and the
// attempts that failed (wasted money) counted apart.
//
// Everything here is pure: FromPod turns one pod (and its Workflow) into an Attempt, Summarize
// adds Attempts up.
package cost
