package sizing_test

import (
	"fmt"
	"os"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/sizing"
)

// The webhook keeps a Store in step with the argo-eci-sizing ConfigMap and, for a pod of template
// "compile" of a workflow submitted from WorkflowTemplate "build", looks up the learned spec.
func ExampleStore_Lookup() {
	entry, err := os.ReadFile("testdata/entry.yaml")
	if err != nil {
		panic(err)
	}
	var store sizing.Store
	if err := store.Update(map[string]string{"ci_wt_build_compile": string(entry)}); err != nil {
		panic(err)
	}
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "build-x7k2p", Namespace: "ci",
		Labels: map[string]string{"workflows.argoproj.io/workflow-template": "build"}}}
	learned, ok := store.Lookup(sizing.IdentityOf(wf, "compile"))
	fmt.Println(ok, learned.Spec)
	fmt.Println(learned.Reason)

	// A broken update keeps what was there.
	fmt.Println(store.Update(map[string]string{"ci_wt_build_compile": "spec: 2-4Gi"}) != nil, store.Table().Len())
	// Output:
	// true 2-4Gi
	// learned from 37 runs: p95 1.2 vCPU / max 2.9Gi → 2-4Gi
	// true 1
}
