package dataset_test

import (
	"fmt"
	"time"

	"github.com/argo-eci/argo-eci/dataset"
)

// The DataLoad's name depends only on the workflow UID, the template and the attempt, so every call
// of one attempt — repeated, concurrent or after a restart — meets on the same object, and a retried
// node (attempt 2) gets a new one.
func ExampleDataLoadName() {
	spec := &dataset.Spec{Name: "serverless-data", Load: dataset.Load{Paths: []string{"/"}}, Timeout: "30m"}
	a := dataset.DataLoadName(spec.Name, dataset.Key("2f9a6c1e-uid", spec), 1)
	b := dataset.DataLoadName(spec.Name, dataset.Key("2f9a6c1e-uid", spec), 1)
	c := dataset.DataLoadName(spec.Name, dataset.Key("other-workflow", spec), 1)
	retry := dataset.DataLoadName(spec.Name, dataset.Key("2f9a6c1e-uid", spec), 2)
	fmt.Println(a == b, a == c, a == retry, len(a))
	// Output: true false false 31
}

// Polling is fast at first and never slower than every 2 s while a load runs.
func ExampleDefaultRequeue() {
	for _, age := range []time.Duration{5 * time.Second, 15 * time.Second, 10 * time.Minute} {
		fmt.Println(age, dataset.DefaultRequeue.After(age))
	}
	// Output:
	// 5s 1s
	// 15s 1.5s
	// 10m0s 2s
}
