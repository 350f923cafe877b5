// Command demo runs the Fluid fan-out example on the local control plane with argo-eci in place:
// the webhook (served here on 127.0.0.1, registered with the apiserver by URL) shapes every pod,
// the executor plugin (served here, called by Argo's own agent code) warms the dataset before the
// 100-way fan-out, and a Fluid status simulator stands in for Fluid's runtimes. It prints a report
// and removes everything it created. hack/demo.sh starts and stops the control plane around it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/imagecache"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/recovery"
	"github.com/argo-eci/argo-eci/test/cluster"
)

func main() {
	root := flag.String("root", ".", "repository root (holds .cache/state and examples/)")
	workflowFile := flag.String("workflow", "examples/fluid-md5sum.yaml", "workflow to run")
	profilesFile := flag.String("profiles", "examples/profiles.yaml", "argo-eci profiles")
	loadTime := flag.Duration("load-time", 8*time.Second, "how long the simulated DataLoad takes")
	runTime := flag.Duration("run-time", 10*time.Second, "how long each fan-out pod runs on the simulated ECI node (longer than the 6 s spot protection period, so reclaims happen)")
	flag.Parse()

	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{root: *root, start: time.Now(), loadTime: *loadTime, runTime: *runTime}
	err := d.run(ctx, *workflowFile, *profilesFile)
	d.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type demo struct {
	root     string
	start    time.Time
	loadTime time.Duration
	runTime  time.Duration

	c        *cluster.Cluster
	admin    client.Client
	ns       string
	cleanups []func()

	mu     sync.Mutex
	events []event
	pods   map[string]*corev1.Pod // every pod of the workflow as created (the agent pod is deleted at the end)
}

type event struct {
	at   time.Time
	what string
}

func (d *demo) progress(format string, args ...any) {
	fmt.Printf("[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) mark(at time.Time, format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, event{at: at, what: fmt.Sprintf(format, args...)})
}

func (d *demo) cleanup() {
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
}

func (d *demo) run(ctx context.Context, workflowFile, profilesFile string) error {
	var err error
	if d.c, err = cluster.Connect(d.root); err != nil {
		return err
	}
	scheme, err := cluster.Scheme()
	if err != nil {
		return err
	}
	if d.admin, err = client.New(d.c.Config, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	if err := d.createNamespace(ctx); err != nil {
		return err
	}
	if err := d.c.SetECIRegion(ctx, d.ns, []byte(demoRegion)); err != nil {
		return fmt.Errorf("ECI simulator: %w", err)
	}
	profiles, err := os.ReadFile(filepath.Join(d.root, profilesFile))
	if err != nil {
		return err
	}
	if err := d.startWebhook(ctx, profiles); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	pluginAddr, token, err := d.startPlugin(ctx)
	if err != nil {
		return fmt.Errorf("executor plugin: %w", err)
	}
	sim := d.startSimulator()

	raw, err := os.ReadFile(filepath.Join(d.root, workflowFile))
	if err != nil {
		return err
	}
	wf := &wfv1.Workflow{}
	if err := yaml.UnmarshalStrict(raw, wf); err != nil {
		return fmt.Errorf("%s: %w", workflowFile, err)
	}
	for i := range wf.Spec.Templates {
		if t := &wf.Spec.Templates[i]; t.Container != nil || t.Script != nil {
			if t.Metadata.Annotations == nil {
				t.Metadata.Annotations = map[string]string{}
			}
			t.Metadata.Annotations[cluster.AnnotationRunDuration] = d.runTime.String()
		}
	}
	d.progress("submitting %s (profile %q) to namespace %s", workflowFile, wf.Annotations["argo-eci.io/profile"], d.ns)
	wf, err = d.c.Workflows.ArgoprojV1alpha1().Workflows(d.ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create workflow: %w", err)
	}
	created := time.Now()
	d.mark(created, "workflow %s created", wf.Name)
	d.watchPods(ctx, wf.Name)
	if err := d.startAgent(wf, pluginAddr, token); err != nil {
		return fmt.Errorf("agent: %w", err)
	}

	final, err := d.waitWorkflow(ctx, wf.Name)
	if err != nil {
		return err
	}
	return d.report(ctx, final, created, sim)
}

func (d *demo) createNamespace(ctx context.Context) error {
	ns, err := d.c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "argo-eci-demo-"}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create namespace: %w", err)
	}
	d.ns = ns.Name
	d.cleanups = append(d.cleanups, func() {
		d.progress("deleting namespace %s", d.ns)
		_ = d.c.Kube.CoreV1().Namespaces().Delete(context.Background(), d.ns, metav1.DeleteOptions{})
	})
	// The dataset's OSS credentials (the simulator never reads them; Fluid would).
	_, err = d.c.Kube.CoreV1().Secrets(d.ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "access-key"},
		StringData: map[string]string{"fs.oss.accessKeyId": "demo", "fs.oss.accessKeySecret": "demo"},
	}, metav1.CreateOptions{})
	return err
}

// startWebhook serves argo-eci's webhook on 127.0.0.1 and registers it by URL for the demo namespace.
func (d *demo) startWebhook(ctx context.Context, profiles []byte) error {
	w, err := d.c.StartWebhook(d.ns, profiles, nil)
	if err != nil {
		return err
	}
	d.cleanups = append(d.cleanups, func() { _ = w.Stop() })
	unregister, err := d.c.RegisterWebhook(ctx, w, d.ns, true)
	if err != nil {
		return err
	}
	d.cleanups = append(d.cleanups, func() { _ = unregister() })
	d.progress("argo-eci webhook serving on https://%s, registered by URL for namespace %s (failurePolicy Fail)", w.Addr, d.ns)
	return nil
}

// startPlugin installs manifests/plugin in the demo namespace (so the controller creates the
// agent pod) and serves argo-eci's executor plugin.
func (d *demo) startPlugin(ctx context.Context) (string, string, error) {
	cleanup, err := d.c.InstallPlugin(ctx, d.admin, d.ns)
	if err != nil {
		return "", "", err
	}
	d.cleanups = append(d.cleanups, cleanup)
	token := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	url, stop, err := cluster.ServeHTTP((&plugin.Server{
		Token:       []byte(token),
		Datasets:    &cluster.WarmRecorder{Next: &dataset.Manager{Client: d.admin}, OnReply: d.onWarmReply()},
		ImageCaches: &imagecache.Manager{Client: d.admin},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}).Handler())
	if err != nil {
		return "", "", err
	}
	d.cleanups = append(d.cleanups, stop)
	d.progress("argo-eci executor plugin serving on %s", url)
	return url, token, nil
}

// onWarmReply puts the plugin's warm-up replies on the timeline and the progress lines.
func (d *demo) onWarmReply() func(*dataset.Spec, executorplugins.ExecuteTemplateReply, bool) {
	done := false
	return func(s *dataset.Spec, reply executorplugins.ExecuteTemplateReply, first bool) {
		if first {
			d.mark(time.Now(), "plugin called by Argo's agent: creates Dataset %s and its JindoRuntime", s.Name)
			d.progress("warm-up started: dataset %s", s.Name)
		}
		switch {
		case done:
		case reply.Node.Phase == wfv1.NodeSucceeded:
			done = true
			d.mark(time.Now(), "plugin reported the warm step Succeeded: %s", reply.Node.Message)
			d.progress("warm-up done: %s", reply.Node.Message)
		case reply.Node.Progress != "":
			d.progress("warm-up %s: %s", reply.Node.Progress, reply.Node.Message)
		}
	}
}

func (d *demo) startSimulator() *fluidsim.Simulator {
	sim := fluidsim.New(d.admin, d.ns, fluidsim.Script{BindAfter: 2 * time.Second, PVC: true,
		Load: fluidsim.LoadPlan{StartAfter: time.Second, Duration: d.loadTime}})
	stop := cluster.RunSimulator(sim)
	d.cleanups = append(d.cleanups, func() { _ = stop() })
	d.progress("Fluid status simulator running (stands in for Fluid's JindoRuntime and DataLoad controllers)")
	return sim
}

// startAgent runs Argo's own agent code (argoexec agent) in this process: it watches the
// workflow's WorkflowTaskSet and calls the plugin, as the agent pod does on a real cluster.
func (d *demo) startAgent(wf *wfv1.Workflow, pluginURL, token string) error {
	stop, err := cluster.RunAgent(d.c.Config, wf, pluginURL, token)
	if err != nil {
		return err
	}
	d.cleanups = append(d.cleanups, func() { _ = stop() })
	return nil
}

// watchPods records every pod of the workflow as the apiserver stored it at creation.
func (d *demo) watchPods(ctx context.Context, name string) {
	d.pods = map[string]*corev1.Pod{}
	factory := informers.NewSharedInformerFactoryWithOptions(d.c.Kube, 0, informers.WithNamespace(d.ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "workflows.argoproj.io/workflow=" + name }))
	_, _ = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				d.mu.Lock()
				d.pods[p.Name] = p
				d.mu.Unlock()
			}
		},
	})
	wctx, cancel := context.WithCancel(ctx)
	factory.Start(wctx.Done())
	d.cleanups = append(d.cleanups, func() { cancel(); factory.Shutdown() })
}

func (d *demo) waitWorkflow(ctx context.Context, name string) (*wfv1.Workflow, error) {
	var final *wfv1.Workflow
	lastLine := ""
	err := wait.PollUntilContextTimeout(ctx, time.Second, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		wf, err := d.c.Workflows.ArgoprojV1alpha1().Workflows(d.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pods, _ := d.c.Kube.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + name})
		var done, total int
		if pods != nil {
			for _, p := range pods.Items {
				if p.Labels["workflows.argoproj.io/component"] == "agent" {
					continue
				}
				total++
				if p.Status.Phase == corev1.PodSucceeded {
					done++
				}
			}
		}
		line := fmt.Sprintf("workflow %s: %s, fan-out pods %d created, %d succeeded", name, wf.Status.Phase, total, done)
		if line != lastLine {
			d.progress("%s", line)
			lastLine = line
		}
		if wf.Status.Phase.Completed() {
			final = wf
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for workflow %s: %w", name, err)
	}
	if final.Status.Phase != wfv1.WorkflowSucceeded {
		return final, fmt.Errorf("workflow %s ended %s: %s", name, final.Status.Phase, final.Status.Message)
	}
	return final, nil
}

type shapeRow struct {
	kind, spec, spot string
}

func (d *demo) report(ctx context.Context, wf *wfv1.Workflow, created time.Time, sim *fluidsim.Simulator) error {
	d.mu.Lock()
	pods := make([]corev1.Pod, 0, len(d.pods))
	for _, p := range d.pods {
		pods = append(pods, *p)
	}
	d.mu.Unlock()
	var dls fluidv1.DataLoadList
	if err := d.admin.List(ctx, &dls, client.InNamespace(d.ns)); err != nil {
		return err
	}
	var ds fluidv1.Dataset
	_ = d.admin.Get(ctx, client.ObjectKey{Namespace: d.ns, Name: "serverless-data"}, &ds)

	for _, dl := range dls.Items {
		d.mark(dl.CreationTimestamp.Time, "DataLoad %s created (one per workflow and template)", dl.Name)
		if at, ok := sim.CompletedAt(dl.Name); ok {
			d.mark(at, "DataLoad %s %s, %s cached", dl.Name, dl.Status.Phase, ds.Status.CacheStates["cachedPercentage"])
		}
	}
	var fan []corev1.Pod
	shaped, agents := 0, 0
	rows := map[shapeRow]int{}
	for _, p := range pods {
		if p.Annotations["argo-eci.io/shaped-by"] != "" {
			shaped++
		}
		kind := "fan-out"
		if p.Labels["workflows.argoproj.io/component"] == "agent" {
			kind, agents = "agent", agents+1
		} else {
			fan = append(fan, p)
		}
		spot := p.Annotations[eci.AnnotationPrefix+"eci-spot-strategy"]
		if l := p.Annotations[eci.AnnotationPrefix+"eci-spot-price-limit"]; l != "" {
			spot += " ≤" + l + "/h"
		}
		if spot == "" {
			spot = "on-demand"
		}
		rows[shapeRow{kind, p.Annotations[eci.AnnotationPrefix+"eci-use-specs"], spot}]++
	}
	sort.Slice(fan, func(i, j int) bool { return fan[i].CreationTimestamp.Before(&fan[j].CreationTimestamp) })
	if len(fan) > 0 {
		d.mark(fan[0].CreationTimestamp.Time, "first fan-out pod created")
		d.mark(fan[len(fan)-1].CreationTimestamp.Time, "last of %d fan-out pods created", len(fan))
	}
	d.mark(wf.Status.FinishedAt.Time, "workflow %s", wf.Status.Phase)

	fmt.Println()
	fmt.Printf("=== argo-eci demo report: %s (%s) ===\n", wf.Name, wf.Status.Phase)
	fmt.Println("\nWarm-up timeline (t=0: workflow created; timestamps from the apiserver have 1 s resolution):")
	sort.SliceStable(d.events, func(i, j int) bool { return d.events[i].at.Before(d.events[j].at) })
	for _, e := range d.events {
		fmt.Printf("  %+7.1fs  %s\n", e.at.Sub(created).Seconds(), e.what)
	}

	fmt.Printf("\nPods shaped by the webhook: %d of %d (%d fan-out, %d agent)\n", shaped, len(pods), len(fan), agents)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  pods\tkind\teci-use-specs\tspot")
	keys := make([]shapeRow, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].kind > keys[j].kind })
	for _, k := range keys {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", rows[k], k.kind, k.spec, k.spot)
	}
	_ = tw.Flush()
	if len(fan) > 0 {
		p := fan[0]
		fmt.Printf("  spec reason (%s): %s\n", p.Name, p.Annotations["argo-eci.io/spec-reason"])
	}
	if err := d.printRecovery(ctx, pods); err != nil {
		return err
	}
	if err := d.printCost(ctx, wf.Name); err != nil {
		return err
	}
	if shaped != len(pods) {
		return fmt.Errorf("%d of %d pods were not shaped", len(pods)-shaped, len(pods))
	}
	return nil
}

// demoRegion is the ECI simulator's region for the demo: an ECI hour lasts 6 s (so the profile's
// one-hour spot protection ends during the fan-out), the profiles' vSwitches map to three zones,
// and a fifth of the spot instances are reclaimed after their protection period.
const demoRegion = `
timeScale: 600
vswitches: {vsw-bp1h4z7demo0000000001: cn-hangzhou-h, vsw-bp1i4z7demo0000000002: cn-hangzhou-i, vsw-bp1k4z7demo0000000003: cn-hangzhou-k}
spot: {reclaimFraction: 0.2}
`

// printRecovery lists what ECI did to the fan-out (the simulator's events) and how argo-eci shaped
// the retries (argo-eci.io/recovery).
func (d *demo) printRecovery(ctx context.Context, pods []corev1.Pod) error {
	events, err := d.c.ECIEvents(ctx, d.ns)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, e := range events {
		counts[e.Reason]++
	}
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	fmt.Println("\nECI (the simulator) during the fan-out:")
	for _, r := range reasons {
		fmt.Printf("  %4d  %s\n", counts[r], r)
	}
	retried := map[string]int{}
	example := map[string]string{}
	for _, p := range pods {
		if r := p.Annotations[recovery.AnnotationRecovery]; r != "" {
			retried[r]++
			example[r] = p.Name
		}
	}
	fmt.Printf("Retries shaped by argo-eci (%s):\n", recovery.AnnotationRecovery)
	if len(retried) == 0 {
		fmt.Println("  none")
	}
	for r, n := range retried {
		fmt.Printf("  %4d  %s (e.g. %s)\n", n, r, example[r])
	}
	return nil
}

// printCost prints `argo-eci cost` for the workflow: what the simulator billed per attempt (the
// spec it wrote back, spot or on-demand, seconds) at list and spot prices.
func (d *demo) printCost(ctx context.Context, wf string) error {
	bin := filepath.Join(d.root, "bin", "argo-eci")
	out, err := exec.CommandContext(ctx, bin, "cost", "--kubeconfig", d.c.Kubeconfig, "-n", d.ns, wf).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cost: %w\n%s", bin, err, out)
	}
	fmt.Printf("\nCost, from what the simulator billed (argo-eci cost -n %s %s; seconds are real, an ECI hour lasts 6 s here):\n%s", d.ns, wf, out)
	return nil
}
