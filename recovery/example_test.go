package recovery_test

import (
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/recovery"
)

// The retry of a spot step whose first attempt was reclaimed runs pay-as-you-go.
func ExampleDecide() {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		"k8s.aliyun.com/eci-use-specs":     "2-4Gi,2-8Gi",
		"k8s.aliyun.com/eci-spot-strategy": "SpotAsPriceGo",
	}}}
	attempts := []recovery.Attempt{{Phase: wfv1.NodeFailed, Message: "BidFailed: the spot instance was released",
		Failure: recovery.Classify(wfv1.NodeFailed, "BidFailed: the spot instance was released")}}
	d, err := recovery.Decide(pod, attempts, recovery.DefaultOptions())
	if err != nil {
		panic(err)
	}
	d.Apply(pod)
	fmt.Println(d.Reason())
	fmt.Println(pod.Annotations)
	// Output:
	// pay-as-you-go after 1 spot reclaim(s)
	// map[argo-eci.io/recovery:pay-as-you-go after 1 spot reclaim(s) k8s.aliyun.com/eci-use-specs:2-4Gi,2-8Gi]
}
