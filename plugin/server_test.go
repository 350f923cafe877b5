package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/executor/plugins/rpc"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/imagecache"
)

const testToken = "0123456789abcdef0123456789abcdef"

// fakeDatasets answers every warm-up with a fixed reply, error or panic and records the calls.
type fakeDatasets struct {
	reply executorplugins.ExecuteTemplateReply
	err   error
	panic bool
	calls atomic.Int32
	last  *dataset.Spec
	wf    executorplugins.ObjectMeta
}

func (f *fakeDatasets) Warm(_ context.Context, wf executorplugins.ObjectMeta, s *dataset.Spec) (executorplugins.ExecuteTemplateReply, error) {
	f.calls.Add(1)
	f.last, f.wf = s, wf
	if f.panic {
		panic("boom")
	}
	return f.reply, f.err
}

type fakeImageCaches struct {
	reply executorplugins.ExecuteTemplateReply
	err   error
	last  *imagecache.Spec
}

func (f *fakeImageCaches) Ensure(_ context.Context, _ executorplugins.ObjectMeta, s *imagecache.Spec) (executorplugins.ExecuteTemplateReply, error) {
	f.last = s
	return f.reply, f.err
}

func running() executorplugins.ExecuteTemplateReply {
	return executorplugins.ExecuteTemplateReply{
		Node:    &wfv1.NodeResult{Phase: wfv1.NodeRunning, Message: "loading", Progress: "10/100"},
		Requeue: &metav1.Duration{Duration: 2 * time.Second},
	}
}

func newTestServer(t *testing.T, ds DatasetWarmer, ic ImageCacher) *httptest.Server {
	t.Helper()
	s := &Server{
		Token:        []byte(testToken),
		Datasets:     ds,
		ImageCaches:  ic,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxBodyBytes: 64 << 10,
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// body builds a template.execute request whose template has the given plugin object (raw JSON).
func body(plugin string) string {
	return `{"workflow":{"metadata":{"name":"wf","namespace":"ns","uid":"6c1b8e0a-uid"}},` +
		`"template":{"name":"warm","plugin":` + plugin + `}}`
}

const validDataset = `{"argo-eci":{"dataset":{"name":"demo","load":{"paths":["/"]},"minCachedPercentage":100,"timeout":"30m"}}}`

type result struct {
	status int
	raw    string
	reply  executorplugins.ExecuteTemplateReply
}

func post(t *testing.T, ts *httptest.Server, payload, token string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+ExecutePath, strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, raw: string(b)}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r.reply); err != nil {
			t.Fatalf("200 with a body that is not an ExecuteTemplateReply: %q: %v", b, err)
		}
	}
	return r
}

func TestAuth(t *testing.T) {
	ds := &fakeDatasets{reply: running()}
	ts := newTestServer(t, ds, nil)
	for name, token := range map[string]string{"missing": "", "wrong": "ffffffffffffffffffffffffffffffff", "prefix": testToken[:10], "longer": testToken + "x"} {
		t.Run(name, func(t *testing.T) {
			if r := post(t, ts, body(validDataset), token); r.status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403 (%s)", r.status, r.raw)
			}
		})
	}
	t.Run("basic scheme", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+ExecutePath, strings.NewReader(body(validDataset)))
		req.Header.Set("Authorization", "Basic "+testToken)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status = %d, want 403", resp.StatusCode)
		}
	})
	if n := ds.calls.Load(); n != 0 {
		t.Fatalf("executor called %d times for unauthorized requests", n)
	}
	if r := post(t, ts, body(validDataset), testToken); r.status != http.StatusOK || r.reply.Node == nil {
		t.Fatalf("right token: status %d body %s", r.status, r.raw)
	}
}

func TestNotMine(t *testing.T) {
	ds := &fakeDatasets{reply: running()}
	ts := newTestServer(t, ds, nil)
	cases := map[string]string{
		"other plugin": body(`{"other-plugin":{"dataset":{"name":"x"}}}`),
		"no plugin":    `{"workflow":{"metadata":{"name":"wf","namespace":"ns","uid":"u"}},"template":{"name":"c","container":{"image":"alpine"}}}`,
		"http":         `{"workflow":{"metadata":{"name":"wf","namespace":"ns","uid":"u"}},"template":{"name":"h","http":{"url":"http://x"}}}`,
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			r := post(t, ts, payload, testToken)
			if r.status != http.StatusOK || strings.TrimSpace(r.raw) != "{}" {
				t.Fatalf("got %d %q, want 200 {}", r.status, r.raw)
			}
		})
	}
	if n := ds.calls.Load(); n != 0 {
		t.Fatalf("executor called %d times for foreign templates", n)
	}
}

// failedMessage posts payload and returns the Failed node's message, failing the test otherwise.
func failedMessage(t *testing.T, ts *httptest.Server, payload string) string {
	t.Helper()
	r := post(t, ts, payload, testToken)
	if r.status != http.StatusOK || r.reply.Node == nil || r.reply.Node.Phase != wfv1.NodeFailed {
		t.Fatalf("got %d %s, want 200 with phase Failed", r.status, r.raw)
	}
	if r.reply.Requeue != nil {
		t.Fatalf("Failed reply carries a requeue: %s", r.raw)
	}
	return r.reply.Node.Message
}

func TestBadInputFailsTheNodeNamingTheField(t *testing.T) {
	ds := &fakeDatasets{reply: running()}
	ts := newTestServer(t, ds, &fakeImageCaches{reply: running()})
	cases := []struct {
		name, plugin, field string
	}{
		{"argo-eci not an object", `{"argo-eci":"warm please"}`, "argo-eci"},
		{"empty object", `{"argo-eci":{}}`, "argo-eci"},
		{"both kinds", `{"argo-eci":{"dataset":{"name":"a"},"imageCache":{"images":["alpine"]}}}`, "argo-eci"},
		{"unknown top-level field", `{"argo-eci":{"datasets":{"name":"a"}}}`, "argo-eci.datasets"},
		{"unknown nested field", `{"argo-eci":{"dataset":{"name":"a","load":{"path":["/"]}}}}`, "argo-eci.dataset.load.path"},
		{"case matters", `{"argo-eci":{"dataset":{"Name":"a"}}}`, "argo-eci.dataset.Name"},
		{"duplicate field", `{"argo-eci":{"dataset":{"name":"a","name":"b"}}}`, "argo-eci.dataset.name"},
		{"wrong type list", `{"argo-eci":{"dataset":{"name":"a","load":{"paths":"/"}}}}`, "argo-eci.dataset.load.paths"},
		{"wrong type bool", `{"argo-eci":{"dataset":{"name":"a","load":{"loadMetadata":"yes"}}}}`, "argo-eci.dataset.load.loadMetadata"},
		{"wrong type int", `{"argo-eci":{"dataset":{"name":"a","runtime":{"replicas":"ten"},"mounts":[{"mountPoint":"oss://b/p/"}]}}}`, "argo-eci.dataset.runtime.replicas"},
		{"wrong type string", `{"argo-eci":{"dataset":{"name":7}}}`, "argo-eci.dataset.name"},
		{"missing name", `{"argo-eci":{"dataset":{"load":{"paths":["/"]}}}}`, "argo-eci.dataset.name"},
		{"bad name", `{"argo-eci":{"dataset":{"name":"Not_A_Name"}}}`, "argo-eci.dataset.name"},
		{"bad duration", `{"argo-eci":{"dataset":{"name":"a","timeout":"3 days"}}}`, "argo-eci.dataset.timeout"},
		{"negative duration", `{"argo-eci":{"dataset":{"name":"a","timeout":"-5m"}}}`, "argo-eci.dataset.timeout"},
		{"percentage too big", `{"argo-eci":{"dataset":{"name":"a","minCachedPercentage":150}}}`, "argo-eci.dataset.minCachedPercentage"},
		{"percentage not a number", `{"argo-eci":{"dataset":{"name":"a","minCachedPercentage":"most"}}}`, "argo-eci.dataset.minCachedPercentage"},
		{"percentage bool", `{"argo-eci":{"dataset":{"name":"a","minCachedPercentage":true}}}`, "argo-eci.dataset.minCachedPercentage"},
		{"relative path", `{"argo-eci":{"dataset":{"name":"a","load":{"paths":["train"]}}}}`, "argo-eci.dataset.load.paths[0]"},
		{"cleanup", `{"argo-eci":{"dataset":{"name":"a","cleanup":"always"}}}`, "argo-eci.dataset.cleanup"},
		{"runtime without mounts", `{"argo-eci":{"dataset":{"name":"a","runtime":{"replicas":1}}}}`, "argo-eci.dataset.mounts"},
		{"bad quantity", `{"argo-eci":{"dataset":{"name":"a","mounts":[{"mountPoint":"oss://b/p/"}],"runtime":{"tieredstore":{"levels":[{"mediumtype":"MEM","quota":"lots"}]}}}}}`, "argo-eci.dataset.runtime.tieredstore.levels[0].quota"},
		{"runtime image is not allowed", `{"argo-eci":{"dataset":{"name":"a","mounts":[{"mountPoint":"oss://b/p/"}],"runtime":{"fuse":{"image":"evil/fuse"}}}}}`, "argo-eci.dataset.runtime.fuse.image"},
		{"runtime fuse args are not allowed", `{"argo-eci":{"dataset":{"name":"a","mounts":[{"mountPoint":"oss://b/p/"}],"runtime":{"fuse":{"args":["--privileged"]}}}}}`, "argo-eci.dataset.runtime.fuse.args"},
		{"runtime volumes are not allowed", `{"argo-eci":{"dataset":{"name":"a","mounts":[{"mountPoint":"oss://b/p/"}],"runtime":{"volumes":[{"name":"root","hostPath":{"path":"/"}}]}}}}`, "argo-eci.dataset.runtime.volumes"},
		{"runtime hostPath tier is not allowed", `{"argo-eci":{"dataset":{"name":"a","mounts":[{"mountPoint":"oss://b/p/"}],"runtime":{"tieredstore":{"levels":[{"mediumtype":"SSD","volumeType":"hostPath","path":"/","quota":"1Gi"}]}}}}}`, "argo-eci.dataset.runtime.tieredstore.levels[0].volumeType"},
		{"onCacheShort", `{"argo-eci":{"dataset":{"name":"a","onCacheShort":"ignore"}}}`, "argo-eci.dataset.onCacheShort"},
		{"no images", `{"argo-eci":{"imageCache":{"name":"x"}}}`, "argo-eci.imageCache.images"},
		{"cache size", `{"argo-eci":{"imageCache":{"images":["alpine"],"size":5}}}`, "argo-eci.imageCache.size"},
		{"pull secret", `{"argo-eci":{"imageCache":{"images":["alpine"],"imagePullSecrets":["Not_A_Secret"]}}}`, "argo-eci.imageCache.imagePullSecrets[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := failedMessage(t, ts, body(c.plugin))
			t.Log(msg)
			if !strings.HasPrefix(msg, c.field) {
				t.Fatalf("message %q does not start with the field %q", msg, c.field)
			}
			_, mine, err := DecodeRequest([]byte(body(c.plugin)))
			var bad *badinput.Error
			if !mine || !errors.As(err, &bad) || bad.Field() != c.field {
				t.Fatalf("DecodeRequest: mine %v, error %v; want a *badinput.Error at %s", mine, err, c.field)
			}
		})
	}
	if n := ds.calls.Load(); n != 0 {
		t.Fatalf("executor called %d times for invalid templates", n)
	}
}

func TestStringNumbersFromArgoParameters(t *testing.T) {
	ds := &fakeDatasets{reply: running()}
	ts := newTestServer(t, ds, nil)
	r := post(t, ts, body(`{"argo-eci":{"dataset":{"name":"a","minCachedPercentage":"99.5%"}}}`), testToken)
	if r.status != http.StatusOK || r.reply.Node == nil || r.reply.Node.Phase != wfv1.NodeRunning {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if got := ds.last.MinCached(); got != 99.5 {
		t.Fatalf("MinCached = %v, want 99.5", got)
	}
	if ds.wf.UID != "6c1b8e0a-uid" || ds.wf.Namespace != "ns" || ds.wf.Name != "wf" {
		t.Fatalf("workflow identity not passed through: %+v", ds.wf)
	}
}

func TestProtocolErrors(t *testing.T) {
	ds := &fakeDatasets{reply: running()}
	ts := newTestServer(t, ds, nil)
	cases := map[string]struct {
		payload string
		status  int
	}{
		"not json":        {`{"workflow":`, http.StatusBadRequest},
		"array":           {`[1,2]`, http.StatusBadRequest},
		"no template":     {`{"workflow":{"metadata":{"name":"wf","namespace":"ns","uid":"u"}}}`, http.StatusBadRequest},
		"plugin two keys": {body(`{"a":{},"b":{}}`), http.StatusBadRequest},
		"no uid":          {`{"workflow":{"metadata":{"name":"wf","namespace":"ns"}},"template":{"plugin":` + validDataset + `}}`, http.StatusBadRequest},
		"huge body":       {body(`{"argo-eci":{"dataset":{"name":"a","load":{"options":{"x":"` + strings.Repeat("a", 100<<10) + `"}}}}}`), http.StatusRequestEntityTooLarge},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if r := post(t, ts, c.payload, testToken); r.status != c.status {
				t.Fatalf("status = %d (%s), want %d", r.status, r.raw, c.status)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, err := ts.Client().Get(ts.URL + ExecutePath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status = %d, want 405", resp.StatusCode)
		}
	})
}

func TestExecutorOutcomes(t *testing.T) {
	gr := schema.GroupResource{Group: "data.fluid.io", Resource: "dataloads"}
	cases := []struct {
		name     string
		reply    executorplugins.ExecuteTemplateReply
		err      error
		status   int
		phase    wfv1.NodePhase
		requeue  time.Duration
		noReplay bool
	}{
		{name: "running keeps its requeue", reply: running(), status: 200, phase: wfv1.NodeRunning, requeue: 2 * time.Second},
		{name: "running without requeue gets one", reply: executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeRunning}},
			status: 200, phase: wfv1.NodeRunning, requeue: DefaultRunningRequeue},
		{name: "pending without requeue gets one", reply: executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodePending}},
			status: 200, phase: wfv1.NodePending, requeue: DefaultRunningRequeue},
		{name: "succeeded drops requeue", reply: executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeSucceeded},
			Requeue: &metav1.Duration{Duration: time.Second}}, status: 200, phase: wfv1.NodeSucceeded},
		{name: "timeout is transient", err: apierrors.NewTimeoutError("slow", 1), status: 503},
		{name: "server timeout is transient", err: apierrors.NewServerTimeout(gr, "get", 1), status: 503},
		{name: "429 is transient", err: apierrors.NewTooManyRequests("slow down", 1), status: 503},
		{name: "conflict is transient", err: apierrors.NewConflict(gr, "x", errors.New("modified")), status: 503},
		{name: "500 is transient", err: apierrors.NewInternalError(errors.New("etcd")), status: 503},
		{name: "503 is transient", err: apierrors.NewServiceUnavailable("starting"), status: 503},
		{name: "our deadline is transient", err: context.DeadlineExceeded, status: 503},
		{name: "apiserver down is transient", err: fmt.Errorf("get DataLoad: %w", &url.Error{Op: "Get", URL: "https://127.0.0.1:6443",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}), status: 503},
		{name: "forbidden fails the node", err: apierrors.NewForbidden(gr, "x", errors.New("rbac")), status: 200, phase: wfv1.NodeFailed},
		{name: "not found is never 404", err: apierrors.NewNotFound(gr, "x"), status: 200, phase: wfv1.NodeFailed},
		{name: "invalid fails the node", err: apierrors.NewBadRequest("bad"), status: 200, phase: wfv1.NodeFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, &fakeDatasets{reply: c.reply, err: c.err}, nil)
			r := post(t, ts, body(validDataset), testToken)
			if r.status != c.status {
				t.Fatalf("status = %d (%s), want %d", r.status, r.raw, c.status)
			}
			if c.status != 200 {
				return
			}
			if r.reply.Node == nil || r.reply.Node.Phase != c.phase {
				t.Fatalf("reply %s, want phase %s", r.raw, c.phase)
			}
			if got := requeueOf(r.reply); got != c.requeue {
				t.Fatalf("requeue = %v, want %v", got, c.requeue)
			}
		})
	}
}

func TestPanicIsRecovered(t *testing.T) {
	ds := &fakeDatasets{panic: true}
	ts := newTestServer(t, ds, nil)
	if r := post(t, ts, body(validDataset), testToken); r.status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", r.status)
	}
	ds.panic, ds.reply = false, running()
	if r := post(t, ts, body(validDataset), testToken); r.status != http.StatusOK {
		t.Fatalf("server unusable after a panic: %d", r.status)
	}
}

// Bad input found by an executor (a pull Secret of another namespace) fails the node naming the
// field, like bad input found while decoding; it is never retried as a transient error.
func TestExecutorBadInputFailsTheNode(t *testing.T) {
	bad := &badinput.Error{Errs: field.ErrorList{field.Forbidden(field.NewPath("argo-eci", "imageCache", "imagePullSecrets").Index(0), "only Secrets of the workflow's namespace")}}
	ic := &fakeImageCaches{err: fmt.Errorf("ensure: %w", bad)}
	ts := newTestServer(t, &fakeDatasets{}, ic)
	msg := failedMessage(t, ts, body(`{"argo-eci":{"imageCache":{"images":["alpine"],"imagePullSecrets":["other:regcred"]}}}`))
	if !strings.HasPrefix(msg, "argo-eci.imageCache.imagePullSecrets[0]: Forbidden") {
		t.Fatalf("message %q, want the field and the problem", msg)
	}
}

func TestImageCacheDispatch(t *testing.T) {
	ic := &fakeImageCaches{reply: executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeSucceeded}}}
	ts := newTestServer(t, &fakeDatasets{}, ic)
	r := post(t, ts, body(`{"argo-eci":{"imageCache":{"name":"alpine","images":["alpine:latest"],"size":20,"retentionDays":7}}}`), testToken)
	if r.status != 200 || r.reply.Node.Phase != wfv1.NodeSucceeded {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if ic.last == nil || ic.last.Images[0] != "alpine:latest" || ic.last.RetentionDays != 7 {
		t.Fatalf("spec not passed: %+v", ic.last)
	}
}

// TestArgoAgentClient drives the server with Argo's own executor-plugin client, the code the agent runs.
func TestArgoAgentClient(t *testing.T) {
	ds := &fakeDatasets{reply: running()}
	ts := newTestServer(t, ds, nil)
	ctx := logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Error, logging.Text, io.Discard))
	var tmpl wfv1.Template
	if err := json.Unmarshal([]byte(`{"name":"warm","plugin":`+validDataset+`}`), &tmpl); err != nil {
		t.Fatal(err)
	}
	args := executorplugins.ExecuteTemplateArgs{
		Workflow: &executorplugins.Workflow{ObjectMeta: executorplugins.ObjectMeta{Name: "wf", Namespace: "ns", UID: "u1"}},
		Template: &tmpl,
	}
	reply := &executorplugins.ExecuteTemplateReply{}
	if err := rpc.New(ts.URL, testToken).ExecuteTemplate(ctx, args, reply); err != nil {
		t.Fatal(err)
	}
	if reply.Node == nil || reply.Node.Phase != wfv1.NodeRunning || reply.GetRequeue() != 2*time.Second || reply.Node.Progress != "10/100" {
		t.Fatalf("reply = %+v", reply)
	}
	other := args
	otherTmpl := wfv1.Template{Name: "x", Plugin: &wfv1.Plugin{Object: wfv1.Object{Value: json.RawMessage(`{"slack":{"text":"hi"}}`)}}}
	other.Template = &otherTmpl
	reply = &executorplugins.ExecuteTemplateReply{}
	if err := rpc.New(ts.URL, testToken).ExecuteTemplate(ctx, other, reply); err != nil {
		t.Fatal(err)
	}
	if reply.Node != nil {
		t.Fatalf("foreign template answered with a node: %+v", reply.Node)
	}
	reply = &executorplugins.ExecuteTemplateReply{}
	err := rpc.New(ts.URL, "wrong-token").ExecuteTemplate(ctx, args, reply)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("wrong token: err = %v, want a 403 error", err)
	}
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t, &fakeDatasets{}, nil)
	resp, err := ts.Client().Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}
}

func TestReplyNeverNotFound(t *testing.T) {
	errs := []error{nil, errForbidden, errProtocol, errPanic, &badinput.Error{}, apierrors.NewNotFound(schema.GroupResource{}, "x"),
		&http.MaxBytesError{Limit: 1}, errors.New("other")}
	for _, err := range errs {
		if r := Reply(executorplugins.ExecuteTemplateReply{}, err); r.Status == http.StatusNotFound {
			t.Fatalf("Reply(%v) = 404", err)
		}
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(Reply(executorplugins.ExecuteTemplateReply{}, nil).Body)
	if strings.TrimSpace(buf.String()) != "{}" {
		t.Fatalf("not-mine body = %q", buf.String())
	}
}

// requeueOf is the requeue of a reply, zero when absent.
func requeueOf(r executorplugins.ExecuteTemplateReply) time.Duration {
	if r.Requeue == nil {
		return 0
	}
	return r.Requeue.Duration
}
