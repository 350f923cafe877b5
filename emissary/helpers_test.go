package emissary

import (
	"encoding/json"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// res builds ResourceRequirements: res("1", "2Gi", "", "") = limits only.
func res(limCPU, limMem, reqCPU, reqMem string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{}
	add := func(l *corev1.ResourceList, name corev1.ResourceName, v string) {
		if v == "" {
			return
		}
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = resource.MustParse(v)
	}
	add(&r.Limits, corev1.ResourceCPU, limCPU)
	add(&r.Limits, corev1.ResourceMemory, limMem)
	add(&r.Requests, corev1.ResourceCPU, reqCPU)
	add(&r.Requests, corev1.ResourceMemory, reqMem)
	return r
}

var executorRes = res("", "", "10m", "64Mi")

// argoPod builds a pod the way Argo v4's controller does for a container template
// (workflow/controller/workflowpod.go): init and wait from argoexec with the executor's resources,
// main's command rewritten to argoexec emissary, var-run-argo and tmp-dir-argo, labels, node
// annotations, owner reference, ARGO_TEMPLATE on init and wait. tmpl's metadata is copied to the pod.
func argoPod(wfName string, tmpl *wfv1.Template) *corev1.Pod {
	tmplJSON, _ := json.Marshal(tmpl)
	env := func(name string) []corev1.EnvVar {
		return []corev1.EnvVar{
			{Name: "ARGO_POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
			{Name: "ARGO_WORKFLOW_NAME", Value: wfName},
			{Name: common.EnvVarContainerName, Value: name},
			{Name: common.EnvVarTemplate, Value: string(tmplJSON)},
		}
	}
	varRunArgo := corev1.VolumeMount{Name: "var-run-argo", MountPath: common.VarRunArgoPath}
	exec := func(name string, args ...string) corev1.Container {
		return corev1.Container{Name: name, Image: "quay.io/argoproj/argoexec:v4.0.7", Command: append([]string{"argoexec"}, args...),
			Env: env(name), Resources: executorRes, VolumeMounts: []corev1.VolumeMount{varRunArgo}}
	}
	var mains []corev1.Container
	switch {
	case tmpl.Container != nil:
		c := *tmpl.Container.DeepCopy()
		c.Name = common.MainContainerName
		mains = append(mains, c)
	case tmpl.Script != nil:
		c := *tmpl.Script.Container.DeepCopy()
		c.Name = common.MainContainerName
		mains = append(mains, c)
	case tmpl.ContainerSet != nil:
		for _, n := range tmpl.ContainerSet.Containers {
			mains = append(mains, *n.Container.DeepCopy())
		}
	}
	for i := range mains {
		mains[i].Command = append([]string{"/var/run/argo/argoexec", "emissary", "--loglevel", "info", "--"}, mains[i].Command...)
		mains[i].Env = append(mains[i].Env, env(mains[i].Name)[:3]...)
		mains[i].VolumeMounts = append(mains[i].VolumeMounts, varRunArgo)
	}
	wait := exec(common.WaitContainerName, "wait", "--loglevel", "info")
	wait.VolumeMounts = append(wait.VolumeMounts, corev1.VolumeMount{Name: "tmp-dir-argo", MountPath: "/tmp", SubPath: "0"})
	containers := []corev1.Container{wait}
	for _, s := range tmpl.Sidecars {
		containers = append(containers, *s.Container.DeepCopy())
	}
	containers = append(containers, mains...)
	// Argo v4.0.7 adds an artifact-plugin sidecar per plugin of an output artifact only.
	for _, name := range tmpl.Outputs.Artifacts.GetPluginNames(quietCtx, nil, wfv1.IncludeLogs, tmpl.ArchiveLocation) {
		containers = append(containers, exec(common.ArtifactPluginSidecarPrefix+string(name), "artifact-plugin"))
	}
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      wfName + "-" + tmpl.Name + "-1843152904",
			Namespace: "argo",
			Labels:    map[string]string{common.LabelKeyWorkflow: wfName, common.LabelKeyCompleted: "false"},
			Annotations: map[string]string{
				common.AnnotationKeyNodeName:         wfName + "[0]." + tmpl.Name,
				common.AnnotationKeyNodeID:           wfName + "-1843152904",
				common.AnnotationKeyDefaultContainer: common.MainContainerName,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow", Name: wfName,
				UID: "6f1d2f64-8a0e-4b9d-9d0e-2f3c1b7a9e11", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:  corev1.RestartPolicyNever,
			Volumes:        append([]corev1.Volume{{Name: "var-run-argo", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, {Name: "tmp-dir-argo", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}, tmpl.Volumes...),
			InitContainers: append([]corev1.Container{exec(common.InitContainerName, "init", "--loglevel", "info")}, userInits(tmpl)...),
			Containers:     containers,
			NodeSelector:   tmpl.NodeSelector,
			Tolerations:    tmpl.Tolerations,
			SchedulerName:  tmpl.SchedulerName,
		},
	}
	for k, v := range tmpl.Metadata.Labels {
		pod.Labels[k] = v
	}
	for k, v := range tmpl.Metadata.Annotations {
		pod.Annotations[k] = v
	}
	return pod
}

// containerTmpl is a container template with the given main resources.
func containerTmpl(name string, r corev1.ResourceRequirements) *wfv1.Template {
	return &wfv1.Template{Name: name, Container: &corev1.Container{Image: "alpine:3.20", Command: []string{"sh", "-c"}, Args: []string{"echo hi"}, Resources: r}}
}

func mustProfiles(t testing.TB, y string) *Profiles {
	t.Helper()
	p, err := ParseProfiles([]byte(y))
	if err != nil {
		t.Fatalf("ParseProfiles: %v", err)
	}
	return p
}

func envOf(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func container(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

func hasCode(fs []Finding, code string) *Finding {
	for i := range fs {
		if fs[i].Code == code {
			return &fs[i]
		}
	}
	return nil
}

func mustQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// userInits are the template's own init containers, which the controller adds after init.
func userInits(tmpl *wfv1.Template) []corev1.Container {
	var out []corev1.Container
	for _, c := range tmpl.InitContainers {
		out = append(out, *c.Container.DeepCopy())
	}
	return out
}
