package ecisim

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/eci"
)

// FuzzParseRequest: pod annotations come from workflow authors; the simulator must reject or
// accept them, never panic, and a request it accepts must be placeable.
func FuzzParseRequest(f *testing.F) {
	f.Add("2-4Gi,ecs.c6.large", "vsw-a,vsw-b", "VSwitchRandom", "SpotWithPriceLimit", "0.5", "fail-fast", "30", "6Gi")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("3-5Gi", ",", "x", "SpotAsPriceGo", "-1", "fail-back", "5", "1e3")
	f.Fuzz(func(t *testing.T, specs, vsw, strategy, spot, limit, fail, pending, mem string) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			eci.AnnotationUseSpecs: specs, eci.AnnotationVSwitch: vsw, eci.AnnotationScheduleStrategy: strategy,
			eci.AnnotationSpotStrategy: spot, eci.AnnotationSpotPriceLimit: limit, eci.AnnotationFailStrategy: fail,
			eci.AnnotationMaxPendingMinute: pending, AnnotationMemoryUse: mem,
		}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}}}
		req, err := ParseRequest(pod)
		if err != nil {
			return
		}
		cfg := &Config{}
		cfg.Default()
		if _, _, ok := Place(req, cfg, func([]string) {}); !ok && !req.Spot {
			t.Fatalf("an on-demand request found no stock in an empty stock table: %+v", req)
		}
	})
}
