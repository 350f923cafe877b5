package webhook

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/badinput"
)

// maxMilli is the largest quantity whose value in thousandths still fits an int64: the spec
// computation works in millicores and MiB, and a larger quantity would wrap (MilliValue of
// 9223372036854775807 is not a number of millicores).
var maxMilli = resource.NewQuantity(math.MaxInt64/1000, resource.DecimalSI)

// checkQuantities refuses a pod whose CPU or memory quantities are too large to compute with,
// naming the field, instead of letting them count as nothing.
func checkQuantities(pod *corev1.Pod) error {
	check := func(kind string, cs []corev1.Container) error {
		for i := range cs {
			for _, list := range []struct {
				name string
				rl   corev1.ResourceList
			}{{"limits", cs[i].Resources.Limits}, {"requests", cs[i].Resources.Requests}} {
				for name, q := range list.rl {
					if q.Cmp(*maxMilli) > 0 {
						return badinput.Errorf(fmt.Sprintf("spec.%s[%d].resources.%s.%s", kind, i, list.name, name),
							"quantity %s is too large (at most %s)", q.String(), maxMilli.String())
					}
				}
			}
		}
		return nil
	}
	if err := check("initContainers", pod.Spec.InitContainers); err != nil {
		return err
	}
	return check("containers", pod.Spec.Containers)
}
