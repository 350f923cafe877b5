package ecisim

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
)

const baseConfig = `
timeScale: 60
vswitches: {vsw-a: cn-hangzhou-h, vsw-b: cn-hangzhou-i}
stock:
- {spec: 2-4Gi, zone: cn-hangzhou-h, market: "*", available: false}
imageCaches:
- {id: imc-alpine, images: [alpine:3.20, argoexec]}
`

func TestPlaceWritesBack(t *testing.T) {
	h := newHarness(t, baseConfig)
	h.create("p", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi,2-8Gi", eci.AnnotationVSwitch: "vsw-a,vsw-b",
		eci.AnnotationScheduleStrategy: "VSwitchOrdered"}, "")
	if after := h.step("p"); after != 0 {
		t.Errorf("requeue %s after placing", after)
	}
	p := h.pod("p")
	want := map[string]string{eci.AnnotationInstanceSpec: "2.0-4.0Gi", AnnotationZone: "cn-hangzhou-i", AnnotationVSwitch: "vsw-b",
		AnnotationMarket: "on-demand", eci.AnnotationMatchedIMC: "imc-alpine", eci.AnnotationInstanceID: instanceID("uid-p")}
	for k, v := range want {
		if p.Annotations[k] != v {
			t.Errorf("%s = %q, want %q", k, p.Annotations[k], v)
		}
	}
	if c := condition(p, eci.ConditionContainerInstanceCreated); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("ContainerInstanceCreated = %+v", c)
	}
	if ev := h.events("p"); len(ev) != 1 || ev[0] != EventInstanceCreated {
		t.Errorf("events %v", ev)
	}
	mustContain(t, h.eventMessage("p", EventInstanceCreated), "2.0-4.0Gi", "cn-hangzhou-i", "imc-alpine")
	// Placed once: a second look changes nothing.
	h.step("p")
	if ev := h.events("p"); len(ev) != 1 {
		t.Errorf("placed twice: %v", ev)
	}
}

func TestPodsElsewhereLeftAlone(t *testing.T) {
	h := newHarness(t, baseConfig)
	h.create("real", "real", nil, "")
	h.create("unbound", "", nil, "")
	h.step("real")
	h.step("unbound")
	for _, n := range []string{"real", "unbound"} {
		if p := h.pod(n); p.Annotations[eci.AnnotationInstanceID] != "" || len(h.events(n)) != 0 {
			t.Errorf("%s touched: %v %v", n, p.Annotations, h.events(n))
		}
	}
}

func TestSpecOrderAndDefaultSpec(t *testing.T) {
	h := newHarness(t, baseConfig)
	// The first listed spec is out of stock in the only zone: the second one is used.
	h.create("p", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi,ecs.c6.large", eci.AnnotationVSwitch: "vsw-a"}, "")
	// No eci-use-specs: 1 vCPU/1536Mi for main (wait is ignored) rounds up to 1-2Gi.
	h.create("q", "vk", nil, "1536Mi")
	h.step("p")
	h.step("q")
	if got := h.pod("p").Annotations[eci.AnnotationInstanceSpec]; got != "ecs.c6.large" {
		t.Errorf("p billed %q", got)
	}
	if got := h.pod("q").Annotations; got[eci.AnnotationInstanceSpec] != "1.0-2.0Gi" || got[AnnotationZone] != "cn-hangzhou-k" {
		t.Errorf("q: %v", got)
	}
}

func TestFailFastStockOut(t *testing.T) {
	h := newHarness(t, baseConfig)
	h.create("p", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationVSwitch: "vsw-a",
		eci.AnnotationFailStrategy: "fail-fast"}, "")
	h.step("p")
	p := h.pod("p")
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != eci.ReasonProviderFailed {
		t.Fatalf("phase %s reason %s", p.Status.Phase, p.Status.Reason)
	}
	mustContain(t, p.Status.Message, "ProviderFailed", "NoStock", "2-4Gi", "cn-hangzhou-h/vsw-a", "fail-fast")
	if p.Annotations[AnnotationEnded] != eci.ReasonProviderFailed || p.Annotations[eci.AnnotationInstanceID] != "" {
		t.Errorf("annotations %v", p.Annotations)
	}
	if ev := h.events("p"); !contains(ev, eci.ReasonNoStock) || !contains(ev, EventProviderFailed) {
		t.Errorf("events %v", ev)
	}
}

func TestPendingUntilStockOrMaxPending(t *testing.T) {
	h := newHarness(t, baseConfig)
	ann := map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationVSwitch: "vsw-a", eci.AnnotationMaxPendingMinute: "10"}
	h.create("p", "vk", ann, "")
	h.create("q", "vk", ann, "")
	if after := h.step("p"); after <= 0 || after > 2*time.Second {
		t.Errorf("look again after %s, want about one scaled minute", after)
	}
	p := h.pod("p")
	if c := condition(p, eci.ConditionContainerInstanceCreated); p.Status.Phase != corev1.PodPending || c == nil || c.Reason != eci.ReasonNoStock {
		t.Fatalf("phase %s, condition %+v", p.Status.Phase, c)
	}
	h.step("p")
	if ev := h.events("p"); len(ev) != 1 {
		t.Errorf("NoStock recorded on every look: %v", ev)
	}
	// Stock comes back while the simulator runs: p is created.
	h.setConfig("sim", "timeScale: 60\nvswitches: {vsw-a: cn-hangzhou-h}\n")
	h.step("p")
	if h.pod("p").Annotations[eci.AnnotationInstanceID] == "" {
		t.Error("not created once stock came back")
	}
	// q's namespace overrides the stock table with a stock-out; 10 ECI minutes later q fails.
	h.setConfig(testNS, baseConfig)
	h.step("q")
	h.clock = h.clock.Add(10 * time.Second)
	h.step("q")
	q := h.pod("q")
	if q.Status.Phase != corev1.PodFailed || q.Status.Reason != eci.ReasonProviderFailed {
		t.Fatalf("q: %s %s", q.Status.Phase, q.Status.Reason)
	}
	mustContain(t, q.Status.Message, "eci-max-pending-minute 10", "2-4Gi")
}

func TestSpotFallbackAndPriceLimit(t *testing.T) {
	h := newHarness(t, `
stock:
- {spec: "*", zone: "*", market: spot, available: false}
`)
	h.create("fallback", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationSpotFallback: "true"}, "")
	h.create("nofallback", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationFailStrategy: "fail-fast"}, "")
	h.step("fallback")
	h.step("nofallback")
	if m := h.pod("fallback").Annotations[AnnotationMarket]; m != "on-demand" {
		t.Errorf("fallback market %q", m)
	}
	if p := h.pod("nofallback"); p.Status.Phase != corev1.PodFailed {
		t.Errorf("no fallback: %s", p.Status.Phase)
	}

	h2 := newHarness(t, "")
	// 2-4Gi lists at 0.441 CNY/h; the market is at 0.2 of that (0.088): a 0.05 cap finds no spot.
	h2.create("cheap", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotWithPriceLimit",
		eci.AnnotationSpotPriceLimit: "0.05", eci.AnnotationFailStrategy: "fail-fast"}, "")
	h2.create("fair", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotWithPriceLimit",
		eci.AnnotationSpotPriceLimit: "0.1"}, "")
	h2.step("cheap")
	h2.step("fair")
	mustContain(t, h2.pod("cheap").Status.Message, "below the market price")
	if m := h2.pod("fair").Annotations[AnnotationMarket]; m != "spot" {
		t.Errorf("fair bid market %q", m)
	}
}

func TestInvalidAnnotationFails(t *testing.T) {
	h := newHarness(t, "")
	h.create("p", "vk", map[string]string{eci.AnnotationUseSpecs: "3-5Gi"}, "")
	h.step("p")
	p := h.pod("p")
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != eci.ReasonProviderFailed {
		t.Fatalf("%s %s", p.Status.Phase, p.Status.Reason)
	}
	mustContain(t, p.Status.Message, eci.AnnotationUseSpecs)
}

func TestSpotReclaimBidFailed(t *testing.T) {
	h := newHarness(t, "timeScale: 60\nspot: {reclaimFraction: 1}\n")
	h.create("p", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo"}, "")
	h.step("p")
	h.run("p")
	// Protected for one ECI hour: a minute of real time at this scale.
	if after := h.step("p"); after != time.Minute {
		t.Errorf("first check after %s, want 1m", after)
	}
	h.clock = h.clock.Add(time.Minute)
	if after := h.step("p"); after != 3*time.Second {
		t.Errorf("release after %s, want 3s (3 ECI minutes)", after)
	}
	p := h.pod("p")
	if c := condition(p, eci.ConditionContainerInstanceExpired); c == nil || c.Status != corev1.ConditionTrue || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("notice: phase %s condition %+v", p.Status.Phase, c)
	}
	if !contains(h.events("p"), eci.EventSpotToBeReleased) {
		t.Errorf("events %v", h.events("p"))
	}
	h.clock = h.clock.Add(3 * time.Second)
	h.step("p")
	p = h.pod("p")
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != eci.ReasonBidFailed {
		t.Fatalf("release: %s %s", p.Status.Phase, p.Status.Reason)
	}
	mustContain(t, p.Status.Message, "BidFailed", p.Annotations[eci.AnnotationInstanceID])
	for _, st := range p.Status.ContainerStatuses {
		if st.State.Terminated == nil {
			t.Errorf("container %s not terminated", st.Name)
		}
	}
}

func TestSpotReclaimEvicts(t *testing.T) {
	h := newHarness(t, "timeScale: 60\nspot: {reclaimFraction: 1}\n")
	h.create("p", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo",
		eci.AnnotationSpotDuration: "0", eci.AnnotationSpotReleaseStrategy: "api-evict"}, "")
	h.step("p")
	h.run("p")
	h.step("p") // no protection: the notice at once
	h.clock = h.clock.Add(3 * time.Second)
	h.step("p")
	if len(h.evicted) != 1 || h.evicted[0] != "p" {
		t.Fatalf("evictions %v", h.evicted)
	}
	if ev := h.events("p"); !contains(ev, EventSpotEvicted) || contains(ev, eci.ReasonBidFailed) {
		t.Errorf("events %v", ev)
	}
}

func TestSpotKeptWhenNotPicked(t *testing.T) {
	h := newHarness(t, "timeScale: 60\nspot: {reclaimFraction: 0}\n")
	h.create("p", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationSpotDuration: "0"}, "")
	h.step("p")
	h.run("p")
	if after := h.step("p"); after != 5*time.Second {
		t.Errorf("next check after %s, want 5s (5 ECI minutes)", after)
	}
	// The spot stock of its spec runs out: the next check reclaims it.
	h.setConfig("sim", "timeScale: 60\nstock: [{spec: 2-4Gi, zone: '*', market: spot, available: false}]\n")
	h.step("p")
	if !contains(h.events("p"), eci.EventSpotToBeReleased) {
		t.Errorf("events %v", h.events("p"))
	}
	mustContain(t, h.eventMessage("p", eci.EventSpotToBeReleased), "stock ran out")
}

func TestOOMKill(t *testing.T) {
	h := newHarness(t, "")
	h.create("big", "vk", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", AnnotationMemoryUse: "6Gi"}, "")
	h.create("limited", "vk", map[string]string{eci.AnnotationUseSpecs: "2-8Gi", AnnotationMemoryUse: "3Gi"}, "2Gi")
	h.create("fits", "vk", map[string]string{eci.AnnotationUseSpecs: "2-8Gi", AnnotationMemoryUse: "6Gi"}, "")
	for _, n := range []string{"big", "limited", "fits"} {
		h.step(n)
		h.run(n)
		if after := h.step(n); n != "fits" && after != 500*time.Millisecond {
			t.Errorf("%s: OOM after %s, want 500ms", n, after)
		}
	}
	h.clock = h.clock.Add(time.Second)
	for _, n := range []string{"big", "limited", "fits"} {
		h.step(n)
	}
	for _, n := range []string{"big", "limited"} {
		p := h.pod(n)
		if p.Status.Phase != corev1.PodFailed {
			t.Fatalf("%s: %s", n, p.Status.Phase)
		}
		for _, st := range p.Status.ContainerStatuses {
			term := st.State.Terminated
			if st.Name == "main" && (term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137) {
				t.Errorf("%s main: %+v", n, term)
			}
			if st.Name == "wait" && (term == nil || term.ExitCode != 0) {
				t.Errorf("%s wait: %+v", n, term)
			}
		}
		if !contains(h.events(n), EventOOMKilled) {
			t.Errorf("%s events %v", n, h.events(n))
		}
	}
	if p := h.pod("fits"); p.Status.Phase != corev1.PodRunning {
		t.Errorf("fits: %s", p.Status.Phase)
	}
}

func TestRandomVSwitchesSpread(t *testing.T) {
	h := newHarness(t, "vswitches: {vsw-a: a, vsw-b: b, vsw-c: c}\n")
	zones := map[string]int{}
	for i := range 30 {
		n := "p" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		h.create(n, "vk", map[string]string{eci.AnnotationVSwitch: "vsw-a,vsw-b,vsw-c", eci.AnnotationScheduleStrategy: "VSwitchRandom"}, "")
		h.step(n)
		zones[h.pod(n).Annotations[AnnotationZone]]++
	}
	if len(zones) != 3 {
		t.Errorf("VSwitchRandom used zones %v", zones)
	}
}

// TestRun drives the informer loop: a pod created after start is placed.
func TestRun(t *testing.T) {
	h := newHarness(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	sim := &Simulator{Kube: h.kube, Namespace: "sim"}
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	h.create("p", "vk", nil, "")
	deadline := time.Now().Add(10 * time.Second)
	for h.pod("p").Annotations[eci.AnnotationInstanceID] == "" {
		if time.Now().After(deadline) {
			t.Fatal("pod never placed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
