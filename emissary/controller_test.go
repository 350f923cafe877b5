package emissary

import (
	"reflect"
	"strings"
	"testing"

	"github.com/argo-eci/argo-eci/eci"
)

func mustControllerConfig(t *testing.T, doc string) *ControllerConfig {
	t.Helper()
	cc, err := ParseControllerConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func TestParseControllerConfig(t *testing.T) {
	for name, doc := range map[string]string{
		"configmap keys": `apiVersion: v1
kind: ConfigMap
metadata: {name: workflow-controller-configmap}
data:
  mainContainer: |
    resources: {limits: {cpu: "1", memory: 2Gi}}
  executor: |
    resources: {requests: {cpu: 100m, memory: 64Mi}}
  initlessPod: |
    enabled: true
`,
		"configmap config": `kind: ConfigMap
data:
  config: |
    mainContainer: {resources: {limits: {cpu: "1", memory: 2Gi}}}
    executor: {resources: {requests: {cpu: 100m, memory: 64Mi}}}
    initlessPod: {enabled: true}
    artifactRepository: {archiveLogs: true}
`,
		"config document": `mainContainer: {resources: {limits: {cpu: "1", memory: 2Gi}}}
executor: {resources: {requests: {cpu: 100m, memory: 64Mi}}}
initlessPod: {enabled: true}
`,
	} {
		cc := mustControllerConfig(t, doc)
		if cc.MainContainer == nil || cc.MainContainer.Resources.Limits.Cpu().String() != "1" || cc.Executor == nil || !cc.Initless() {
			t.Errorf("%s: %+v", name, cc)
		}
	}
	if _, err := ParseControllerConfig([]byte("kind: ConfigMap\ndata: {executor: 'resources: [1'}")); err == nil {
		t.Error("malformed executor accepted")
	}
}

const plainWF = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: c-}
spec:
  entrypoint: main
  templates:
  - name: main
    inputs:
      artifacts: [{name: in, path: /in, plugin: {name: oss, key: k}}]
    container: {image: alpine, command: ["true"]}
`

func TestControllerConfigShapesRender(t *testing.T) {
	profiles := mustProfiles(t, "default: p\nprofiles: {p: {executorResources: count}}")
	// mainContainer defaults give the main container resources the workflow file does not show.
	cc := mustControllerConfig(t, "mainContainer: {resources: {limits: {cpu: \"1\", memory: 2Gi}}}\nexecutor: {resources: {limits: {cpu: \"1\", memory: 1Gi}}}")
	wf, findings := shapeYAML(t, NewEngine(profiles).WithControllerConfig(cc), plainWF)
	m := tmplByName(&wf.Spec, "main")
	// main 1/2Gi + wait 1/1Gi (executorResources: count) = 2 vCPU/3Gi → 2-4Gi.
	if got := m.Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "2-4Gi") {
		t.Errorf("eci-use-specs = %q, want 2-4Gi first (mainContainer and executor defaults counted)", got)
	}
	if hasCode(findings, CodeNoResources) != nil {
		t.Errorf("mainContainer defaults ignored: %+v", findings)
	}
	// Argo v4.1's initless layout: supervisor instead of wait, plugin sidecars for inputs too.
	initless := mustControllerConfig(t, "initlessPod: {enabled: true}")
	wf, _ = shapeYAML(t, NewEngine(DefaultProfiles()).WithControllerConfig(initless), plainWF)
	if got := patchNames(t, tmplByName(&wf.Spec, "main").PodSpecPatch); !reflect.DeepEqual(got, []string{"supervisor", "artifact-plugin-oss"}) {
		t.Errorf("initless podSpecPatch names %v", got)
	}
	wf, _ = shapeYAML(t, NewEngine(DefaultProfiles()), plainWF)
	if got := patchNames(t, tmplByName(&wf.Spec, "main").PodSpecPatch); !reflect.DeepEqual(got, []string{"wait"}) {
		t.Errorf("legacy podSpecPatch names %v", got)
	}
}

// A default artifact repository that is a plugin, with archiveLogs: every pod with a wait
// container gets its sidecar, and key-only output artifacts use it.
func TestControllerConfigDefaultPluginRepository(t *testing.T) {
	cc := mustControllerConfig(t, `artifactRepository:
  archiveLogs: true
  plugin: {name: argo-eci-oss, configuration: "bucket: b"}
`)
	wf, _ := shapeYAML(t, NewEngine(DefaultProfiles()).WithControllerConfig(cc), `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: r-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`)
	if got := patchNames(t, tmplByName(&wf.Spec, "main").PodSpecPatch); !reflect.DeepEqual(got, []string{"wait", "artifact-plugin-argo-eci-oss"}) {
		t.Errorf("podSpecPatch names %v, want wait and the log-archiving plugin sidecar", got)
	}
}
