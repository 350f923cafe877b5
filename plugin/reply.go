package plugin

import (
	"errors"
	"net/http"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/internal/requeue"
)

// Response is what one template.execute call answers: an HTTP status and either the agent's reply
// body or, for non-200 statuses, an error text.
type Response struct {
	Status int
	Body   executorplugins.ExecuteTemplateReply
	Text   string
}

// Reply maps the outcome of a call to the agent's protocol (workflow/executor/agent.go and
// workflow/util/plugins/client.go in Argo v4.0.7). It is the only place that chooses a status:
//
//   - 200 + {} (no node): not an argo-eci template, the agent tries its next plugin;
//   - 200 + node: the node's phase; Running/Pending always carry a positive requeue, because the agent
//     never calls again for a Running reply without one;
//   - 200 + Failed: bad input in the template (the message names the field) and permanent
//     Kubernetes errors (forbidden, invalid, missing CRDs);
//   - 503: transient Kubernetes or network errors; the agent retries (1 s ×2, 5 steps);
//   - 400: a body the agent would never send; 403: wrong token; 413: body too large; 500: panic.
//
// 404 is never returned here: the agent would stop calling template.execute for the agent's lifetime.
func Reply(out executorplugins.ExecuteTemplateReply, err error) Response {
	var (
		badInput *badinput.Error
		tooBig   *http.MaxBytesError
	)
	switch {
	case err == nil:
		if out.Node == nil {
			return Response{Status: http.StatusOK}
		}
		if !out.Node.Phase.Completed() && (out.Requeue == nil || out.Requeue.Duration <= 0) {
			out.Requeue = &metav1.Duration{Duration: DefaultRunningRequeue}
		}
		if out.Node.Phase.Completed() {
			out.Requeue = nil
		}
		return Response{Status: http.StatusOK, Body: out}
	case errors.Is(err, errForbidden):
		return Response{Status: http.StatusForbidden, Text: err.Error()}
	case errors.As(err, &tooBig):
		return Response{Status: http.StatusRequestEntityTooLarge, Text: err.Error()}
	case errors.Is(err, errProtocol):
		return Response{Status: http.StatusBadRequest, Text: err.Error()}
	case errors.Is(err, errPanic):
		return Response{Status: http.StatusInternalServerError, Text: err.Error()}
	case errors.As(err, &badInput):
		return failed(badInput.Error())
	case IsTransient(err):
		return Response{Status: http.StatusServiceUnavailable, Text: err.Error()}
	default:
		return failed(err.Error())
	}
}

func failed(msg string) Response {
	return Response{Status: http.StatusOK, Body: executorplugins.ExecuteTemplateReply{
		Node: &wfv1.NodeResult{Phase: wfv1.NodeFailed, Message: msg},
	}}
}

// IsTransient reports errors that a later call is likely to get past (see requeue.IsTransient).
func IsTransient(err error) bool { return requeue.IsTransient(err) }
