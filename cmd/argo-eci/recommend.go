package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/sizing"
	"github.com/argo-eci/argo-eci/sizing/usage"
)

// recommendFlags are recommend's command-line settings.
type recommendFlags struct {
	prometheus, tokenFile, window, step string
	minRuns, bands, bandMinRuns         int
	timeZone                            string
	namespaces                          []string
	kubeconfig, sizingNamespace, output string
	apply, emitPatch                    bool
}

func newRecommendCmd() *cobra.Command {
	f := recommendFlags{}
	cmd := &cobra.Command{
		Use:   "recommend [--prometheus URL] [--window 14d] [--min-runs 5] [--bands 4 --time-zone Asia/Shanghai] [--apply] [--emit-patch] [-o table|json|yaml]",
		Short: "Learned per-template ECI specs from observed usage in Prometheus",
		Long: `recommend reads the finished pods of Argo Workflows (from the Workflows' node statuses, so pods
already deleted count) and their CPU and memory usage from Prometheus (cAdvisor's
container_cpu_usage_seconds_total and container_memory_working_set_bytes), and learns for each
template with enough runs the cheapest ECI spec that holds it: CPU at the 95th percentile of the
per-run peaks plus 15 % and memory at the highest per-run peak plus 15 %, never below the highest
peak seen, memory grown after an OOMKill. It prints what each template declares, what it used, the
learned spec and the list price per run before and after.

--bands N also learns each of N equal time-of-day bands (in --time-zone) that has --band-min-runs
runs of its own, for steps whose use follows a daily cycle: pods then get the spec of the band
they are created in, never above the whole template's and with memory never below the highest
peak of the neighbouring bands. Bands are kept only when one of them differs from the whole day.

--apply merges the learned specs into the argo-eci-sizing ConfigMap, which the webhook and render
use for profiles with "sizing: learned". --emit-patch prints kustomize patches that write the
learned specs into WorkflowTemplates' resources instead of the table. Progress goes to stderr.
Exit status: 0 done, 1 Prometheus or Kubernetes failed or there is nothing to learn from, 2 bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRecommend(cmd.Context(), cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.prometheus, "prometheus", envOr("PROMETHEUS_URL", "http://127.0.0.1:9090"), "Prometheus base URL (default $PROMETHEUS_URL or http://127.0.0.1:9090); user:password@ is sent as basic auth")
	fl.StringVar(&f.tokenFile, "prometheus-token-file", "", "file holding a bearer token for Prometheus")
	fl.StringVar(&f.window, "window", "14d", "how far back to learn from (Prometheus duration: 14d, 36h, 1w)")
	fl.StringVar(&f.step, "step", "30s", "query resolution; at least the scrape interval")
	fl.IntVar(&f.minRuns, "min-runs", 5, "runs a template needs before it gets a recommendation")
	fl.IntVar(&f.bands, "bands", 0, "also learn this many equal time-of-day bands (a divisor of 24, e.g. 4 for 6 h); 0: none")
	fl.StringVar(&f.timeZone, "time-zone", "UTC", "IANA time zone of the bands, e.g. Asia/Shanghai")
	fl.IntVar(&f.bandMinRuns, "band-min-runs", sizing.DefaultOptions().BandMinRuns, "runs a band needs before it gets a spec of its own")
	fl.StringSliceVarP(&f.namespaces, "namespace", "n", nil, "namespaces of the Workflows (repeatable); default all")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config, else in-cluster)")
	fl.StringVar(&f.sizingNamespace, "sizing-namespace", "argo", "namespace of the argo-eci-sizing ConfigMap (the webhook's)")
	fl.StringVarP(&f.output, "output", "o", "table", "table, json or yaml")
	fl.BoolVar(&f.apply, "apply", false, "merge the learned specs into the argo-eci-sizing ConfigMap")
	fl.BoolVar(&f.emitPatch, "emit-patch", false, "print kustomize patches for WorkflowTemplates instead of the report")
	return cmd
}

// parsed are the validated flag values.
type parsed struct {
	window, step time.Duration
	opts         sizing.Options
	token        string
}

func (f *recommendFlags) parse() (*parsed, error) {
	bad := func(flag string, err error) error { return &exitError{code: 2, err: fmt.Errorf("--%s: %w", flag, err)} }
	p := &parsed{opts: sizing.DefaultOptions()}
	w, err := model.ParseDuration(f.window)
	if err != nil || w <= 0 {
		return nil, bad("window", fmt.Errorf("expected a duration such as 14d or 36h, got %q", f.window))
	}
	s, err := model.ParseDuration(f.step)
	if err != nil || time.Duration(s) < time.Second {
		return nil, bad("step", fmt.Errorf("expected a duration of at least 1s such as 30s, got %q", f.step))
	}
	p.window, p.step = time.Duration(w), time.Duration(s)
	p.opts.MinRuns = f.minRuns
	if err := p.opts.Validate(); err != nil {
		return nil, bad("min-runs", err)
	}
	p.opts.Bands, p.opts.BandMinRuns = f.bands, f.bandMinRuns
	if err := p.opts.Validate(); err != nil {
		return nil, bad("bands", err)
	}
	if p.opts.TimeZone, err = sizing.LoadZone(f.timeZone); err != nil {
		return nil, bad("time-zone", err)
	}
	if f.output != "table" && f.output != "json" && f.output != "yaml" {
		return nil, bad("output", fmt.Errorf("expected table, json or yaml, got %q", f.output))
	}
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, bad("prometheus-token-file", err)
		}
		p.token = strings.TrimSpace(string(b))
	}
	return p, nil
}

func runRecommend(ctx context.Context, cmd *cobra.Command, f *recommendFlags) error {
	p, err := f.parse()
	if err != nil {
		return err
	}
	reader, err := usage.New(f.prometheus, p.token, nil)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--prometheus: %w", err)}
	}
	if err := reader.Check(ctx); err != nil {
		return err
	}
	config, err := kubeConfig(f.kubeconfig, "argo-eci-recommend")
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	wfc, err := versioned.NewForConfig(config)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	rep, err := learn(ctx, learnInput{
		now: time.Now(), window: p.window, step: p.step, opts: p.opts,
		workflows: func(ctx context.Context) ([]wfv1.Workflow, error) { return listWorkflows(ctx, wfc, f.namespaces) },
		usage:     reader,
		progress:  progressBar(stderr),
	})
	if err != nil {
		return err
	}
	if f.emitPatch {
		return writePatches(ctx, cmd.OutOrStdout(), stderr, wfc, rep)
	}
	if err := writeReport(cmd.OutOrStdout(), f.output, rep); err != nil {
		return err
	}
	if f.apply {
		kube, err := kubernetes.NewForConfig(config)
		if err != nil {
			return err
		}
		return applySizing(ctx, kube, f.sizingNamespace, rep, stderr)
	}
	return nil
}

// usageReader is what learn needs from Prometheus.
type usageReader interface {
	Usage(ctx context.Context, q usage.Query, progress func(done, total int)) (map[usage.PodKey]*usage.Series, error)
}

type learnInput struct {
	now          time.Time
	window, step time.Duration
	opts         sizing.Options
	workflows    func(context.Context) ([]wfv1.Workflow, error)
	usage        usageReader
	progress     func(done, total int)
}

// row is one template in the report: a recommendation, or why there is none.
type row struct {
	Template    string                 `json:"template"`
	Runs        int                    `json:"runs"`
	Declared    string                 `json:"declared"`
	Recommended string                 `json:"recommended,omitempty"`
	Skipped     string                 `json:"skipped,omitempty"`
	Entry       *sizing.Entry          `json:"evidence,omitempty"`
	CostBefore  float64                `json:"cnyPerRunBefore,omitempty"`
	CostAfter   float64                `json:"cnyPerRunAfter,omitempty"`
	rec         *sizing.Recommendation `json:"-"`
}

// report is what recommend prints.
type report struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Templates []row     `json:"templates"`
	// TotalBefore and TotalAfter are the list price of the learned templates' runs in the window
	// with the declared and the learned specs.
	TotalBefore float64 `json:"totalCNYBefore"`
	TotalAfter  float64 `json:"totalCNYAfter"`
}

// errNothingToLearn: the window holds no finished workflow pod.
var errNothingToLearn = errors.New("no finished workflow pods in the window")

// learn gathers the runs in the window, reads their usage and recommends per template.
func learn(ctx context.Context, in learnInput) (*report, error) {
	wfs, err := in.workflows(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing Workflows: %w", err)
	}
	start := in.now.Add(-in.window)
	byID := map[sizing.Identity][]sizing.PodRun{}
	var keys []usage.PodKey
	from, to := in.now, start
	for i := range wfs {
		for _, r := range sizing.RunsOf(&wfs[i]) {
			if r.Start.Before(start) || r.End.After(in.now) {
				continue
			}
			byID[r.Identity] = append(byID[r.Identity], r)
			keys = append(keys, usage.PodKey{Namespace: r.Identity.Namespace, Pod: r.Pod})
			from, to = minT(from, r.Start), maxT(to, r.End)
		}
	}
	if len(byID) == 0 {
		return nil, fmt.Errorf("%w (%s back from %s)", errNothingToLearn, model.Duration(in.window), in.now.Format(time.RFC3339))
	}
	series, err := in.usage.Usage(ctx, usage.Query{Namespaces: usage.Namespaces(keys),
		Start: from.Truncate(in.step), End: to.Add(2 * in.step), Step: in.step}, in.progress)
	if err != nil {
		return nil, err
	}
	rep := &report{From: start, To: in.now}
	ids := make([]sizing.Identity, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	for _, id := range ids {
		rep.add(id, byID[id], series, in)
	}
	return rep, nil
}

// add measures the runs of one template and appends its row.
func (rep *report) add(id sizing.Identity, prs []sizing.PodRun, series map[usage.PodKey]*usage.Series, in learnInput) {
	sort.Slice(prs, func(i, j int) bool { return prs[i].Start.Before(prs[j].Start) })
	declared := prs[len(prs)-1].Declared
	runs := make([]sizing.Run, len(prs))
	for i, pr := range prs {
		s := series[usage.PodKey{Namespace: id.Namespace, Pod: pr.Pod}]
		if s == nil {
			s = &usage.Series{}
		}
		runs[i] = sizing.MeasureRun(pr.Pod, pr.Start, pr.End, in.step, s.CPU, s.Memory)
		runs[i].OOMKilled = pr.OOMKilled
	}
	r := row{Template: id.String(), Runs: len(runs), Declared: declared.String()}
	rec, err := sizing.Recommend(id, runs, declared, in.opts)
	if err != nil {
		r.Skipped = "no recommendation: " + err.Error()
		rep.Templates = append(rep.Templates, r)
		return
	}
	e := sizing.EntryOf(rec)
	e.Declared = declared.String()
	r.Runs, r.Recommended, r.Entry, r.rec = rec.Runs, rec.Spec.String(), &e, rec
	r.CostBefore, r.CostAfter = rec.CostBefore, rec.CostAfter
	rep.TotalBefore += rec.CostBefore * float64(rec.Runs)
	rep.TotalAfter += costAfter(rec)
	rep.Templates = append(rep.Templates, r)
}

// costAfter is the list price of rec's runs with the learned specs: each band's runs at the band's
// spec, the others at the whole template's.
func costAfter(rec *sizing.Recommendation) float64 {
	total, rest := 0.0, rec.Runs
	for _, b := range rec.Bands {
		total += b.CostAfter * float64(b.Runs)
		rest -= b.Runs
	}
	return total + rec.CostAfter*float64(rest)
}

func minT(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxT(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// listWorkflows lists the Workflows of namespaces (all when empty), 100 at a time.
func listWorkflows(ctx context.Context, c versioned.Interface, namespaces []string) ([]wfv1.Workflow, error) {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var out []wfv1.Workflow
	for _, ns := range namespaces {
		opts := metav1.ListOptions{Limit: 100}
		for {
			list, err := c.ArgoprojV1alpha1().Workflows(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			out = append(out, list.Items...)
			if opts.Continue = list.Continue; opts.Continue == "" {
				break
			}
		}
	}
	return out, nil
}

// progressBar draws "usage [#####-----] 3/6" on w, one redraw per chunk, and ends the line at the end.
func progressBar(w io.Writer) func(done, total int) {
	return func(done, total int) {
		const width = 30
		n := done * width / max(total, 1)
		fmt.Fprintf(w, "\rreading usage from Prometheus [%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat("-", width-n), done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

// writeRow writes one table row: a template, or (declared "") one of its time-of-day bands.
func writeRow(tw io.Writer, name, declared string, rec *sizing.Recommendation) {
	c, m := rec.CPU, rec.Memory
	fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f/%.2f/%.2f\t%s/%s/%s\t%s\t%.4f\t%.4f\n", name, rec.Runs, declared,
		c.P50, c.P95, c.Max, sizing.FormatBytes(m.P50), sizing.FormatBytes(m.P95), sizing.FormatBytes(m.Max),
		rec.Spec, rec.CostBefore, rec.CostAfter)
}

func writeReport(w io.Writer, format string, rep *report) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "yaml":
		out, err := yaml.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEMPLATE\tRUNS\tDECLARED\tCPU P50/P95/MAX\tMEMORY P50/P95/MAX\tRECOMMENDED\tCNY/RUN BEFORE\tAFTER")
	for _, r := range rep.Templates {
		if r.rec == nil {
			fmt.Fprintf(tw, "%s\t%d\t%s\t-\t-\t-\t-\t-\t(%s)\n", r.Template, r.Runs, r.Declared, r.Skipped)
			continue
		}
		writeRow(tw, r.Template, r.Declared, r.rec)
		for i := range r.rec.Bands {
			b := &r.rec.Bands[i]
			writeRow(tw, fmt.Sprintf("  %02d:00–%02d:00 %s", b.FromHour, b.ToHour, r.rec.TimeZone), "", &b.Recommendation)
		}
	}
	ratio := "-"
	if rep.TotalBefore > 0 {
		ratio = fmt.Sprintf("%.2f×", rep.TotalAfter/rep.TotalBefore)
	}
	fmt.Fprintf(tw, "TOTAL (runs in the window)\t\t\t\t\t%s\t%.4f\t%.4f\n", ratio, rep.TotalBefore, rep.TotalAfter)
	return tw.Flush()
}

// applySizing merges the learned entries into the argo-eci-sizing ConfigMap: entries of templates
// learned now replace their old ones, other valid entries stay, broken ones are dropped (with a
// note on stderr). The merged data is checked with the webhook's own parser before it is written.
func applySizing(ctx context.Context, kube kubernetes.Interface, namespace string, rep *report, stderr io.Writer) error {
	var entries []sizing.Entry
	for _, r := range rep.Templates {
		if r.Entry != nil {
			entries = append(entries, *r.Entry)
		}
	}
	if len(entries) == 0 {
		return errors.New("--apply: no template has a recommendation; the ConfigMap is left as it is")
	}
	fresh, err := sizing.EncodeConfigMapData(entries)
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cms := kube.CoreV1().ConfigMaps(namespace)
		cm, err := cms.Get(ctx, sizing.ConfigMapName, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return err
		}
		if create {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: sizing.ConfigMapName, Namespace: namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "argo-eci-recommend"}}}
		}
		data := map[string]string{}
		for k, v := range cm.Data {
			if _, err := sizing.ParseConfigMapData(map[string]string{k: v}); err != nil {
				fmt.Fprintf(stderr, "dropping broken entry %s from %s/%s: %v\n", k, namespace, sizing.ConfigMapName, err)
				continue
			}
			data[k] = v
		}
		for k, v := range fresh {
			data[k] = v
		}
		if _, err := sizing.ParseConfigMapData(data); err != nil {
			return fmt.Errorf("merged %s would not parse: %w", sizing.ConfigMapName, err)
		}
		cm.Data = data
		if create {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		} else {
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err == nil {
			fmt.Fprintf(stderr, "applied %d learned specs to %s/%s (%d entries in all)\n", len(fresh), namespace, sizing.ConfigMapName, len(data))
		}
		return err
	})
}

// writePatches prints a kustomization "patches:" list that writes the learned specs into the
// WorkflowTemplates and ClusterWorkflowTemplates the templates came from.
func writePatches(ctx context.Context, w, stderr io.Writer, c versioned.Interface, rep *report) error {
	type owner struct {
		kind      sizing.OwnerKind
		ns, name  string
		templates []row
	}
	owners := map[string]*owner{}
	var order []string
	for _, r := range rep.Templates {
		if r.rec == nil {
			continue
		}
		id := r.rec.Identity
		if id.Kind != sizing.OwnerWorkflowTemplate && id.Kind != sizing.OwnerClusterWorkflowTemplate {
			fmt.Fprintf(stderr, "%s: not from a WorkflowTemplate, no patch\n", id)
			continue
		}
		k := string(id.Kind) + "/" + id.Namespace + "/" + id.Owner
		if owners[k] == nil {
			owners[k] = &owner{kind: id.Kind, ns: id.Namespace, name: id.Owner}
			order = append(order, k)
		}
		owners[k].templates = append(owners[k].templates, r)
	}
	var patches []sizing.Patch
	for _, k := range order {
		o := owners[k]
		templates, target, err := ownerTemplates(ctx, c, o.kind, o.ns, o.name)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", k, err)
			continue
		}
		var ops []sizing.PatchOp
		for _, r := range o.templates {
			more, err := sizing.PatchOps(templates, r.rec.Identity.Template, r.rec.Spec)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", r.Template, err)
				continue
			}
			ops = append(ops, more...)
		}
		if len(ops) == 0 {
			continue
		}
		text, err := yaml.Marshal(ops)
		if err != nil {
			return err
		}
		patches = append(patches, sizing.Patch{Target: target, Patch: string(text)})
	}
	out, err := yaml.Marshal(map[string]any{"patches": patches})
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// ownerTemplates fetches the templates of a WorkflowTemplate or ClusterWorkflowTemplate.
func ownerTemplates(ctx context.Context, c versioned.Interface, kind sizing.OwnerKind, ns, name string) ([]wfv1.Template, sizing.PatchTarget, error) {
	target := sizing.PatchTarget{Group: "argoproj.io", Version: "v1alpha1", Kind: string(kind), Name: name}
	if kind == sizing.OwnerClusterWorkflowTemplate {
		t, err := c.ArgoprojV1alpha1().ClusterWorkflowTemplates().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, target, err
		}
		return t.Spec.Templates, target, nil
	}
	target.Namespace = ns
	t, err := c.ArgoprojV1alpha1().WorkflowTemplates(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, target, err
	}
	return t.Spec.Templates, target, nil
}
