package recovery

import (
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
)

// Attempt is one earlier, finished attempt of a retried step.
type Attempt struct {
	// Index is the attempt's number: Argo names attempt i of step N "N(i)".
	Index   int
	NodeID  string
	Phase   wfv1.NodePhase
	Message string
	Failure Failure
}

// PreviousAttempts returns the finished earlier attempts of the step whose pod carries node name
// nodeName (annotation workflows.argoproj.io/node-name, "<step>(<attempt>)" for retried steps), in
// order, from the Workflow's node status. A step without retries, or a first attempt, has none.
// Argo names attempt i of retry node N "N(i)" and lists the attempts as N's children.
func PreviousAttempts(wf *wfv1.Workflow, nodeName string) []Attempt {
	parent, attempt, ok := splitAttempt(nodeName)
	if !ok || attempt == 0 || wf == nil {
		return nil
	}
	var retry *wfv1.NodeStatus
	for id := range wf.Status.Nodes {
		n := wf.Status.Nodes[id]
		if n.Name == parent && n.Type == wfv1.NodeTypeRetry {
			retry = &n
			break
		}
	}
	if retry == nil {
		return nil
	}
	var out []Attempt
	for _, id := range retry.Children {
		child, found := wf.Status.Nodes[id]
		if !found || child.Name == nodeName || !child.Fulfilled() {
			continue
		}
		_, i, ok := splitAttempt(child.Name)
		if !ok || i >= attempt {
			continue
		}
		out = append(out, Attempt{Index: i, NodeID: id, Phase: child.Phase, Message: child.Message,
			Failure: Classify(child.Phase, child.Message)})
	}
	return out
}

// splitAttempt splits "step(3)" into "step" and 3.
func splitAttempt(nodeName string) (string, int, bool) {
	if !strings.HasSuffix(nodeName, ")") {
		return "", 0, false
	}
	open := strings.LastIndexByte(nodeName, '(')
	if open <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(nodeName[open+1 : len(nodeName)-1])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return nodeName[:open], n, true
}

// count tallies the attempts' failures.
func count(attempts []Attempt) map[Failure]int {
	c := map[Failure]int{}
	for _, a := range attempts {
		c[a.Failure]++
	}
	return c
}
