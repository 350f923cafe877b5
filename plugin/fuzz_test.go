package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"

	"github.com/argo-eci/argo-eci/badinput"
)

// FuzzExecuteTemplate feeds arbitrary bodies to the decoder and the handler. Seeds live in
// testdata/fuzz/FuzzExecuteTemplate. Invariants: no panic, only the protocol's statuses, a decoded
// argo-eci request always has exactly one validated kind, and every 200 body is a valid reply whose
// Running/Pending node carries a requeue.
func FuzzExecuteTemplate(f *testing.F) {
	f.Add([]byte(body(validDataset)))
	f.Add([]byte(body(`{"argo-eci":{"imageCache":{"images":["alpine:latest"]}}}`)))
	f.Add([]byte(body(`{"slack":{}}`)))
	f.Add([]byte(`{}`))
	s := &Server{
		Token:       []byte(testToken),
		Datasets:    &fakeDatasets{reply: executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeRunning}}},
		ImageCaches: &fakeImageCaches{reply: running()},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, mine, err := DecodeRequest(payload)
		switch {
		case err == nil && mine:
			if req == nil || (req.Spec.Dataset == nil) == (req.Spec.ImageCache == nil) {
				t.Fatalf("accepted request without exactly one kind: %+v", req)
			}
			if req.Workflow.UID == "" {
				t.Fatal("accepted request without workflow UID")
			}
		case err == nil && req != nil:
			t.Fatal("foreign template returned a request")
		case err != nil:
			var ie *badinput.Error
			if !errors.As(err, &ie) && !errors.Is(err, errProtocol) {
				t.Fatalf("unclassified decode error: %v", err)
			}
		}

		r := httptest.NewRequest(http.MethodPost, ExecutePath, bytes.NewReader(payload))
		r.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			var reply executorplugins.ExecuteTemplateReply
			if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil {
				t.Fatalf("200 body is not a reply: %q", w.Body.String())
			}
			if reply.Node != nil && !reply.Node.Phase.Completed() && reply.GetRequeue() <= 0 {
				t.Fatalf("%s without requeue", reply.Node.Phase)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q", w.Code, payload)
		}
	})
}
