package cost_test

import (
	"fmt"

	"github.com/argo-eci/argo-eci/cost"
)

// A spot attempt reclaimed after 10 minutes and its on-demand retry of 10 minutes, on 2-4Gi.
func ExampleSummarize() {
	r := cost.Summarize([]cost.Attempt{
		{Workflow: "ci", Template: "build", Spec: "2.0-4.0Gi", Spot: true, Seconds: 600, Phase: "Failed"},
		{Workflow: "ci", Template: "build", Spec: "2.0-4.0Gi", Seconds: 600, Phase: "Succeeded", Retry: 1},
	}, cost.DefaultPrices())
	t := r.Total
	fmt.Printf("%d attempts, %d retry, %d spot, %d on-demand\n", t.Attempts, t.Retries, t.SpotAttempts, t.OnDemandAttempts)
	fmt.Printf("list %.4f CNY, billed %.4f CNY, wasted %.4f CNY\n", t.ListCNY, t.BilledCNY, t.WastedCNY)
	// Output:
	// 2 attempts, 1 retry, 1 spot, 1 on-demand
	// list 0.1470 CNY, billed 0.0882 CNY, wasted 0.0147 CNY
}
