package emissary_test

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/emissary"
)

func ExampleParseProfiles() {
	profiles, err := emissary.ParseProfiles([]byte(`
default: standard
profiles:
  standard:
    placement: [label, scheduler]
    fallbackSpecs: 2
    spot: {strategy: SpotWithPriceLimit, priceLimit: "0.25"}
`))
	if err != nil {
		panic(err)
	}
	p := profiles.Profiles[profiles.Default]
	fmt.Println(p.Name, p.Placement, p.Spot.Strategy, p.Spot.PriceLimit)

	_, err = emissary.ParseProfiles([]byte(`profiles: {standard: {fallbackSpecs: 9}}`))
	var fe *badinput.Error
	fmt.Println(errors.As(err, &fe), fe.Field())
	fmt.Println(err)
	// Output:
	// standard [label scheduler] SpotWithPriceLimit 0.25
	// true profiles.standard.fallbackSpecs
	// profiles.standard.fallbackSpecs: Invalid value: 9: expected 0..4
}

func ExampleEngine_ShapePod() {
	engine := emissary.NewEngine(emissary.DefaultProfiles())
	limits := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}
	executor := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	// Without the ignore marker on wait ECI would bill 2.1 vCPU/4.1Gi as 4-8Gi.
	// A pod as Argo's controller creates it for step "build" of workflow "ci-x7k2p" (abridged).
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "ci-x7k2p-build-1843152904", Namespace: "argo",
			Labels:      map[string]string{"workflows.argoproj.io/workflow": "ci-x7k2p"},
			Annotations: map[string]string{"workflows.argoproj.io/node-name": "ci-x7k2p[0].build"},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Limits: executor}}},
			Containers: []corev1.Container{
				{Name: "wait", Resources: corev1.ResourceRequirements{Limits: executor}},
				{Name: "main", Command: []string{"/var/run/argo/argoexec", "emissary", "--", "make"}, Resources: corev1.ResourceRequirements{Limits: limits}},
			},
		},
	}
	res, err := engine.ShapePod(pod, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Outcome, res.Profile)
	fmt.Println(res.Pod.Annotations["k8s.aliyun.com/eci-use-specs"])
	fmt.Println(res.Pod.Annotations["argo-eci.io/spec-reason"])
	fmt.Println(res.Pod.Labels["alibabacloud.com/eci"], res.Pod.Spec.SchedulerName)
	fmt.Println(res.Pod.Spec.Containers[0].Env)
	// Output:
	// shaped standard
	// 2-4Gi,2-8Gi,2-16Gi
	// sum of limits 2 vCPU/4Gi (wait ignored) → 2-4Gi; fallbacks 2-8Gi,2-16Gi
	// true eci-scheduler
	// [{__ECI_RESOURCE_IGNORE__ TRUE nil}]
}

// Render the way `argo-eci render` does: parse the stream, shape each Argo object, write only
// what changed into the user's document.
func ExampleEngine_ShapeWorkflow() {
	stream, err := emissary.ParseStream([]byte(`# CI build
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: build-, annotations: {argo-eci.io/spot: "true"}}
spec:
  entrypoint: compile
  templates:
  - name: compile
    container:
      image: golang:1.25
      command: [go, build, ./...]
      resources: {limits: {cpu: "2", memory: 4Gi}}
`))
	if err != nil {
		panic(err)
	}
	engine := emissary.NewEngine(emissary.DefaultProfiles())
	for _, o := range stream.Objects {
		shaped, findings, err := engine.ShapeWorkflow(o.Object)
		if err != nil {
			panic(err)
		}
		if err := stream.Update(o, shaped); err != nil {
			panic(err)
		}
		fmt.Println(len(findings), "findings")
	}
	out, _ := stream.Encode()
	fmt.Print(string(out))
	// Output:
	// 0 findings
	// # CI build
	// apiVersion: argoproj.io/v1alpha1
	// kind: Workflow
	// metadata: {generateName: build-, annotations: {argo-eci.io/spot: "true"}}
	// spec:
	//   entrypoint: compile
	//   templates:
	//   - name: compile
	//     container:
	//       image: golang:1.25
	//       command: [go, build, ./...]
	//       resources: {limits: {cpu: "2", memory: 4Gi}}
	//     metadata:
	//       annotations:
	//         argo-eci.io/decision: standard;#12997;79dd45bfc7c85488
	//         argo-eci.io/shaped-by: standard
	//         argo-eci.io/spec-reason: sum of limits 2 vCPU/4Gi (wait ignored) → 2-4Gi; fallbacks 2-8Gi,2-16Gi
	//         k8s.aliyun.com/eci-auto-imc: "true"
	//         k8s.aliyun.com/eci-custom-tags: workflow:build,template:compile
	//         k8s.aliyun.com/eci-fail-strategy: fail-fast
	//         k8s.aliyun.com/eci-spot-fallback: "true"
	//         k8s.aliyun.com/eci-spot-release-strategy: api-evict
	//         k8s.aliyun.com/eci-spot-strategy: SpotAsPriceGo
	//         k8s.aliyun.com/eci-use-specs: 2-4Gi,2-8Gi,2-16Gi
	//       labels:
	//         alibabacloud.com/eci: "true"
	//     podSpecPatch: '{"containers":[{"env":[{"name":"__ECI_RESOURCE_IGNORE__","value":"TRUE"}],"name":"wait"}]}'
	//     retryStrategy:
	//       backoff:
	//         duration: 5s
	//         factor: 2
	//       expression: lastRetry.message == "pod deleted" || lastRetry.exitCode == "143" || lastRetry.message matches "ProviderFailed|NoStock|BidFailed|ContainerInstanceExpired|OOMKilled|Evicted|EvictionByEvictionAPI"
	//       limit: 3
	//       retryPolicy: Always
	//     schedulerName: eci-scheduler
}
