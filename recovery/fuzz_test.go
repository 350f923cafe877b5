package recovery

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"

	"github.com/argo-eci/argo-eci/eci"
)

// FuzzDecide feeds workflow-author annotations and node messages to Decide: it must never panic,
// and what it sets must parse again.
func FuzzDecide(f *testing.F) {
	f.Add("2-4Gi,2-8Gi", "vsw-a,vsw-b", "SpotAsPriceGo", msgBid, "3Gi")
	f.Add("ecs.c6.large", "", "", msgOOM, "")
	f.Add("", "vsw-a", "SpotWithPriceLimit", msgStockOut, "1")
	f.Add("64-512Gi", ",,", "x", MessageDeleted, "1Ei")
	f.Fuzz(func(t *testing.T, specs, vsw, spot, msg, mem string) {
		ann := map[string]string{eci.AnnotationUseSpecs: specs, eci.AnnotationVSwitch: vsw, eci.AnnotationSpotStrategy: spot}
		p := pod(ann, "")
		attempts := []Attempt{{Phase: wfv1.NodeFailed, Message: msg, Failure: Classify(wfv1.NodeFailed, msg)}}
		d, err := Decide(p, append(attempts, attempts...), DefaultOptions())
		if err != nil {
			return
		}
		d.Apply(p)
		if v, ok := d.Set[eci.AnnotationUseSpecs]; ok {
			if _, err := eci.ParseSpecList(v); err != nil {
				t.Fatalf("Decide wrote eci-use-specs %q: %v", v, err)
			}
		}
	})
}
