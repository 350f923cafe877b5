//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/imagecache"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// exampleEnv is one example's namespace with argo-eci's webhook registered for it, serving the
// example profiles (examples/profiles.yaml), and a record of every pod as created.
type exampleEnv struct {
	c     *cluster.Cluster
	ns    string
	admin client.Client
	pods  *podWatch
}

func newExampleEnv(t *testing.T, c *cluster.Cluster) *exampleEnv {
	t.Helper()
	return newExampleEnvOn(t, c, cluster.Kwok)
}

// newExampleEnvOn is newExampleEnv with the namespace's pods on node.
func newExampleEnvOn(t *testing.T, c *cluster.Cluster, node cluster.Node) *exampleEnv {
	t.Helper()
	ns := c.NamespaceOn(t, node)
	w := startWebhook(t, c, ns)
	profiles, err := os.ReadFile(filepath.Join(c.Root, "examples", "profiles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Server.Engines.Load("file", "examples/profiles.yaml", profiles); err != nil {
		t.Fatal(err)
	}
	w.Register(ns, true)
	admin, err := client.New(c.Config, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &exampleEnv{c: c, ns: ns, admin: admin, pods: watchPods(t, c, ns)}
}

// submit creates the example workflow FILE (through the webhook's /mutate/workflows).
func (e *exampleEnv) submit(t *testing.T, file string) *wfv1.Workflow {
	t.Helper()
	return e.c.CreateWorkflow(t, e.ns, e.load(t, file))
}

// load reads the example workflow FILE.
func (e *exampleEnv) load(t *testing.T, file string) *wfv1.Workflow {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.c.Root, "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	wf := &wfv1.Workflow{}
	if err := yaml.UnmarshalStrict(raw, wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return wf
}

func (e *exampleEnv) succeed(t *testing.T, wf *wfv1.Workflow, timeout time.Duration) *wfv1.Workflow {
	t.Helper()
	done := e.c.WaitWorkflow(t, e.ns, wf.Name, timeout)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	return done
}

// workPods are the pods of wf other than the agent pod, as they were created.
func (e *exampleEnv) workPods(wf *wfv1.Workflow) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range e.pods.pods() {
		if p.Labels[common.LabelKeyWorkflow] == wf.Name && p.Labels[common.LabelKeyComponent] != "agent" {
			out = append(out, p)
		}
	}
	return out
}

// startPlugin installs manifests/plugin in the namespace, serves argo-eci's executor plugin on
// 127.0.0.1 as the plugin's ServiceAccount, and runs the Fluid/ECI status simulator with script.
func (e *exampleEnv) startPlugin(t *testing.T, script fluidsim.Script) (addr, token string, sim *fluidsim.Simulator) {
	t.Helper()
	applyPluginManifests(t, e.c, e.admin, e.ns)
	pkube, err := client.New(impersonate(e.c, e.ns, "argo-eci-executor-plugin"), client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	token = "examples-token-0123456789abcdef0"
	url := servePlugin(t, &plugin.Server{Token: []byte(token), Datasets: &dataset.Manager{Client: pkube}, ImageCaches: &imagecache.Manager{Client: pkube}})
	return url, token, runSimulator(t, e.admin, e.ns, script)
}

// assertExampleShaped checks what examples/profiles.yaml promises on every pod of an example.
func assertExampleShaped(t *testing.T, p *corev1.Pod, profile string) {
	t.Helper()
	a := p.Annotations
	if a[emissary.AnnotationShapedBy] != profile {
		t.Errorf("pod %s: shaped by %q, want %q", p.Name, a[emissary.AnnotationShapedBy], profile)
	}
	if a[eci.AnnotationPrefix+"eci-use-specs"] == "" || a[emissary.AnnotationSpecReason] == "" {
		t.Errorf("pod %s: no spec decision: %v", p.Name, a)
	}
	if a[eci.AnnotationPrefix+"eci-fail-strategy"] != "fail-fast" || a[eci.AnnotationPrefix+"eci-vswitch"] == "" {
		t.Errorf("pod %s: fail strategy or zones missing: %v", p.Name, a)
	}
	if p.Labels[eci.LabelECI] != "true" || p.Spec.SchedulerName != "eci-scheduler" || p.Spec.NodeSelector["type"] != "virtual-kubelet" {
		t.Errorf("pod %s: not placed on ECI three ways: labels %v scheduler %q nodeSelector %v", p.Name, p.Labels, p.Spec.SchedulerName, p.Spec.NodeSelector)
	}
	for _, c := range p.Spec.Containers {
		ignored := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == eci.EnvResourceIgnore })
		executorSidecar := c.Name == common.WaitContainerName || strings.HasPrefix(c.Name, "artifact-plugin-")
		if ignored != executorSidecar {
			t.Errorf("pod %s container %s: %s set %v, want %v", p.Name, c.Name, eci.EnvResourceIgnore, ignored, executorSidecar)
		}
	}
}

// TestExamples runs every workflow of examples/ on the local control plane with argo-eci in place.
func TestExamples(t *testing.T) {
	t.Parallel() // long waits on the kwok node; runs beside the other parallel tests (make e2e: -parallel 4)
	c := cluster.Get(t)

	t.Run("eci-fanout", func(t *testing.T) {
		e := newExampleEnv(t, c)
		wf := e.succeed(t, e.submit(t, "eci-fanout.yaml"), 3*time.Minute)
		pods := e.workPods(wf)
		if len(pods) != 10 {
			t.Fatalf("%d pods, want 10", len(pods))
		}
		for _, p := range pods {
			assertExampleShaped(t, p, "standard")
			// limits 2 vCPU / 4Gi, wait left out: 2-4Gi first, then the two next specs.
			if got := p.Annotations[eci.AnnotationPrefix+"eci-use-specs"]; !strings.HasPrefix(got, "2-4Gi,") || strings.Count(got, ",") != 2 {
				t.Errorf("pod %s: eci-use-specs %q, want 2-4Gi and two fallbacks", p.Name, got)
			}
		}
	})

	t.Run("fluid-md5sum", func(t *testing.T) {
		e := newExampleEnv(t, c)
		if _, err := c.Kube.CoreV1().Secrets(e.ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "access-key"},
			StringData: map[string]string{"fs.oss.accessKeyId": "id", "fs.oss.accessKeySecret": "secret"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		addr, token, sim := e.startPlugin(t, fluidsim.Script{BindAfter: time.Second, PVC: true, Load: fluidsim.LoadPlan{Duration: 5 * time.Second}})
		wf := e.submit(t, "fluid-md5sum.yaml")
		runAgent(t, c, wf, addr, token)
		wf = e.succeed(t, wf, 5*time.Minute)

		dls := listDataLoads(t, e)
		if len(dls) != 1 {
			t.Fatalf("%d DataLoads, want 1", len(dls))
		}
		completed, ok := sim.CompletedAt(dls[0])
		if !ok {
			t.Fatalf("DataLoad %s never completed", dls[0])
		}
		pods := e.workPods(wf)
		if len(pods) != 100 {
			t.Fatalf("%d fan-out pods, want 100", len(pods))
		}
		for _, p := range pods {
			assertExampleShaped(t, p, "data")
			if p.CreationTimestamp.Time.Before(completed.Truncate(time.Second)) {
				t.Fatalf("pod %s created at %s, before the DataLoad completed at %s", p.Name, p.CreationTimestamp.UTC(), completed.UTC())
			}
			if p.Labels[eci.LabelFluidSidecarTarget] != "eci" || p.Spec.TerminationGracePeriodSeconds == nil || *p.Spec.TerminationGracePeriodSeconds != 0 {
				t.Errorf("pod %s: Fluid serverless sidecar label %q, grace period %v", p.Name, p.Labels[eci.LabelFluidSidecarTarget], p.Spec.TerminationGracePeriodSeconds)
			}
			if p.Annotations[eci.AnnotationPrefix+"eci-spot-strategy"] != "SpotAsPriceGo" || !strings.HasPrefix(p.Annotations[eci.AnnotationPrefix+"eci-use-specs"], "8-16Gi") {
				t.Errorf("pod %s: want spot at the market price on 8-16Gi: %v", p.Name, p.Annotations)
			}
		}
	})

	t.Run("imagecache-fanout", func(t *testing.T) {
		e := newExampleEnv(t, c)
		addr, token, _ := e.startPlugin(t, fluidsim.Script{ImageCaches: map[string]fluidsim.CachePlan{"alpine": {ReadyAfter: 2 * time.Second}}})
		wf := e.submit(t, "imagecache-fanout.yaml")
		runAgent(t, c, wf, addr, token)
		wf = e.succeed(t, wf, 5*time.Minute)
		pods := e.workPods(wf)
		if len(pods) != 100 {
			t.Fatalf("%d fan-out pods, want 100", len(pods))
		}
		for _, p := range pods {
			assertExampleShaped(t, p, "standard")
			// The pinned cache from the prewarm step wins over the profile's auto-match.
			if got := p.Annotations[eci.AnnotationPrefix+"eci-imc-id"]; got != "imc-sim-alpine" {
				t.Errorf("pod %s: eci-imc-id %q, want the prewarm step's imc-sim-alpine", p.Name, got)
			}
		}
	})

	t.Run("oss-artifacts", func(t *testing.T) {
		e := newExampleEnv(t, c)
		// The namespace's default artifact repository is OSS through argo-eci-oss (manifests/argo
		// sets it controller-wide; the local controller registers the driver, hack/cluster/controller.yaml).
		repo := "plugin:\n  name: argo-eci-oss\n  keyFormat: \"{{workflow.name}}/{{pod.name}}\"\n" +
			"  configuration: |\n    endpoint: http://127.0.0.1:9\n    bucket: artifacts\n    region: cn-hangzhou\n"
		if _, err := c.Kube.CoreV1().ConfigMaps(e.ns).Create(context.Background(), &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "artifact-repositories",
				Annotations: map[string]string{"workflows.argoproj.io/default-artifact-repository": "oss"}},
			Data: map[string]string{"oss": repo},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// kwok runs no containers: report the output artifact the wait container would have saved.
		c.TaskResults(t, e.ns, func(p *corev1.Pod) *wfv1.Outputs {
			if !strings.Contains(p.Annotations[common.AnnotationKeyNodeName], "generate-artifact") {
				return nil
			}
			return &wfv1.Outputs{Artifacts: wfv1.Artifacts{{Name: "hello-art", Path: "/tmp/hello_world.txt",
				ArtifactLocation: wfv1.ArtifactLocation{Plugin: &wfv1.PluginArtifact{Name: "argo-eci-oss",
					Configuration: "endpoint: http://127.0.0.1:9\nbucket: artifacts\nregion: cn-hangzhou\n",
					Key:           p.Labels[common.LabelKeyWorkflow] + "/" + p.Name + "/hello-art.tgz"}}}}}
		})
		wf := e.succeed(t, e.submit(t, "oss-artifacts.yaml"), 3*time.Minute)
		pods := e.workPods(wf)
		if len(pods) != 2 {
			t.Fatalf("%d pods, want 2", len(pods))
		}
		for _, p := range pods {
			assertExampleShaped(t, p, "standard")
			// 500m/1Gi for main; the wait and artifact-plugin sidecars are left out of the spec.
			if got := p.Annotations[eci.AnnotationPrefix+"eci-use-specs"]; !strings.HasPrefix(got, "0.5-1Gi,") {
				t.Errorf("pod %s: eci-use-specs %q, want 0.5-1Gi first", p.Name, got)
			}
			producer := strings.Contains(p.Annotations[common.AnnotationKeyNodeName], "generate-artifact")
			var plugin string
			if producer {
				plugin = containerNamed(p.Spec.Containers, "artifact-plugin-argo-eci-oss")
			} else {
				plugin = containerNamed(p.Spec.InitContainers, "init-artifact-argo-eci-oss")
			}
			if plugin == "" {
				t.Errorf("pod %s (producer %v): no argo-eci-oss plugin container: %v / %v", p.Name, producer, p.Spec.InitContainers, p.Spec.Containers)
			}
		}
	})

	t.Run("spot-ci-build", func(t *testing.T) {
		e := newExampleEnv(t, c)
		createBoundClaim(t, e, "rust-cache")
		wf := e.succeed(t, e.submit(t, "spot-ci-build.yaml"), 3*time.Minute)
		pods := e.workPods(wf)
		if len(pods) != 1 {
			t.Fatalf("%d pods, want 1", len(pods))
		}
		p := pods[0]
		assertExampleShaped(t, p, "spot-ci")
		a := p.Annotations
		if a[eci.AnnotationPrefix+"eci-use-specs"] != "ecs.c6.2xlarge,ecs.c5.2xlarge,ecs.c7.3xlarge,ecs.g6.2xlarge,ecs.c6e.2xlarge" ||
			a[eci.AnnotationPrefix+"eci-spot-strategy"] != "SpotAsPriceGo" || a[eci.AnnotationPrefix+"eci-spot-duration"] != "1" ||
			a[eci.AnnotationPrefix+"eci-spot-fallback"] != "true" || a[eci.AnnotationPrefix+"eci-extra-ephemeral-storage"] != "50Gi" {
			t.Errorf("pod %s: the example's spot settings missing: %v", p.Name, a)
		}
	})
}

func listDataLoads(t *testing.T, e *exampleEnv) []string {
	t.Helper()
	var list fluidv1.DataLoadList
	if err := e.admin.List(context.Background(), &list, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list.Items {
		names = append(names, i.Name)
	}
	return names
}

// createBoundClaim makes a ReadWriteMany claim and a volume bound to it (the build's shared cache).
func createBoundClaim(t *testing.T, e *exampleEnv, name string) {
	t.Helper()
	ctx := context.Background()
	pvName := e.ns + "-" + name
	size := resource.MustParse("100Gi")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "nasplugin.csi.alibabacloud.com", VolumeHandle: pvName}},
			ClaimRef:               &corev1.ObjectReference{Namespace: e.ns, Name: name},
			StorageClassName:       "",
		},
	}
	if _, err := e.c.Kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.c.Kube.CoreV1().PersistentVolumes().Delete(context.Background(), pvName, metav1.DeleteOptions{})
	})
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			VolumeName:       pvName,
			StorageClassName: new(string),
		},
	}
	if _, err := e.c.Kube.CoreV1().PersistentVolumeClaims(e.ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func containerNamed(cs []corev1.Container, name string) string {
	for _, c := range cs {
		if c.Name == name {
			return c.Name
		}
	}
	return ""
}
