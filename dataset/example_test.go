package dataset_test

import (
	"fmt"
	"time"

	"github.com/argo-eci/argo-eci/dataset"
)

// The DataLoad's name depends only on the workflow UID and the template, so every call of one
// warm-up — repeated, concurrent or after a restart — meets on the same object.
func ExampleDataLoadName() {
	spec := &dataset.Spec{Name: "serverless-data", Load: dataset.Load{Paths: []string{"/"}}, Timeout: "30m"}
	a := dataset.DataLoadName(spec.Name, dataset.Key("2f9a6c1e-uid", spec))
	b := dataset.DataLoadName(spec.Name, dataset.Key("2f9a6c1e-uid", spec))
	c := dataset.DataLoadName(spec.Name, dataset.Key("other-workflow", spec))
	fmt.Println(a == b, a == c, len(a))
	// Output: true false 31
}

// Polling is fast at first and backs off to the cap.
func ExampleRequeue_After() {
	r := dataset.Requeue{Min: time.Second, Max: 15 * time.Second}
	for _, age := range []time.Duration{5 * time.Second, time.Minute, 10 * time.Minute} {
		fmt.Println(age, r.After(age))
	}
	// Output:
	// 5s 1s
	// 1m0s 6s
	// 10m0s 15s
}
