package recovery

import (
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"

	"github.com/argo-eci/argo-eci/eci"
)

// Failure is the kind of ECI failure that ended an attempt.
type Failure string

// The failures argo-eci recovers from, and the rest.
const (
	// FailureNone: the attempt did not fail (or has not finished).
	FailureNone Failure = ""
	// FailureStockOut: ECI found no stock for any listed spec in any listed zone (ProviderFailed).
	FailureStockOut Failure = "StockOut"
	// FailureSpotReclaim: the spot instance was released (BidFailed, ContainerInstanceExpired).
	FailureSpotReclaim Failure = "SpotReclaim"
	// FailureEvicted: the pod was evicted or deleted under the step (api-evict reclaims end here).
	FailureEvicted Failure = "Evicted"
	// FailureOOMKilled: the main container used more memory than its spec or limit.
	FailureOOMKilled Failure = "OOMKilled"
	// FailureOther: anything else, such as the user's own non-zero exit code.
	FailureOther Failure = "Other"
)

// MessageDeleted is the node message Argo writes when a step's pod disappeared before it saw the
// pod end (workflow/controller operator.go).
const MessageDeleted = "pod deleted"

// ExitCodeSIGTERM is the exit code of a container ended by SIGTERM (128 + 15). An eviction through
// the Eviction API (ECI's api-evict spot release) stops the pod's containers with SIGTERM, and Argo
// records the main container's end, "main: Error (exit code 143)", rather than "pod deleted" (seen
// on a real kubelet). A step whose own program ends with 143 is taken for evicted too: its retry
// runs pay-as-you-go, which costs more but is never wrong.
const ExitCodeSIGTERM = 143

// messageSIGTERM is how that exit ends Argo's node message.
var messageSIGTERM = "(exit code " + strconv.Itoa(ExitCodeSIGTERM) + ")"

// markers are the words in an Argo node message that identify each failure. Argo copies a Failed
// pod's status message into the node (ProviderFailed and BidFailed pods carry one) and otherwise
// writes "<container>: <reason> (exit code N)", so OOMKilled appears as the termination reason.
var markers = []struct {
	word    string
	failure Failure
}{
	{eci.ReasonProviderFailed, FailureStockOut},
	{eci.ReasonNoStock, FailureStockOut},
	{eci.ReasonBidFailed, FailureSpotReclaim},
	{eci.ConditionContainerInstanceExpired, FailureSpotReclaim},
	{eci.ReasonOOMKilled, FailureOOMKilled},
	{"Evicted", FailureEvicted},
	{"EvictionByEvictionAPI", FailureEvicted},
}

// Classify names the failure behind an attempt's node phase and message. Argo hands a retry
// nothing but this text (it is also what retryStrategy expressions see as lastRetry.message), so
// the markers are ECI's and Kubernetes' own reason words.
func Classify(phase wfv1.NodePhase, message string) Failure {
	if phase != wfv1.NodeFailed && phase != wfv1.NodeError {
		return FailureNone
	}
	if message == MessageDeleted || strings.HasSuffix(message, messageSIGTERM) {
		return FailureEvicted
	}
	for _, m := range markers {
		if strings.Contains(message, m.word) {
			return m.failure
		}
	}
	return FailureOther
}

// RetryExpression is the retryStrategy expression argo-eci adds: it is true exactly when the last
// attempt ended in one of ECI's failures (an eviction included: "pod deleted", or the main
// container ended by SIGTERM). Use it with retryPolicy Always, because evictions and some
// stock-outs reach Argo as Error rather than Failed. Argo itself never retries once the workflow
// is being stopped or is past its deadline.
func RetryExpression() string {
	words := make([]string, 0, len(markers))
	for _, m := range markers {
		words = append(words, m.word)
	}
	return `lastRetry.message == "` + MessageDeleted + `" || lastRetry.exitCode == "` + strconv.Itoa(ExitCodeSIGTERM) +
		`" || lastRetry.message matches "` + strings.Join(words, "|") + `"`
}
