package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	json "github.com/goccy/go-json"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Errors of request decoding; the HTTP layer maps them to status codes in [httpStatus].
var (
	// ErrTooLarge is returned for request bodies over the configured cap.
	ErrTooLarge = errors.New("request body too large")
	// ErrBadReview is returned for bodies that are not an admission.k8s.io/v1 AdmissionReview request.
	ErrBadReview = errors.New("not an admission.k8s.io/v1 AdmissionReview request")
	// ErrBusy is returned when a request gave up waiting for a free slot (MaxInFlight).
	ErrBusy = errors.New("too many admission reviews in flight")
)

// DecodeReview parses an AdmissionReview request body. It requires apiVersion
// admission.k8s.io/v1, kind AdmissionReview, a request with a uid and a kind, and names the
// offending field when one is missing or wrong. Errors wrap [ErrBadReview].
func DecodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadReview)
	}
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(body, review); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadReview, err)
	}
	switch {
	case review.APIVersion != admissionv1.SchemeGroupVersion.String():
		return nil, fmt.Errorf("%w: apiVersion is %q, expected %q", ErrBadReview, review.APIVersion, admissionv1.SchemeGroupVersion.String())
	case review.Kind != "AdmissionReview":
		return nil, fmt.Errorf("%w: kind is %q, expected \"AdmissionReview\"", ErrBadReview, review.Kind)
	case review.Request == nil:
		return nil, fmt.Errorf("%w: request is missing", ErrBadReview)
	case review.Request.UID == "":
		return nil, fmt.Errorf("%w: request.uid is empty", ErrBadReview)
	case review.Request.Kind.Kind == "":
		return nil, fmt.Errorf("%w: request.kind.kind is empty", ErrBadReview)
	}
	return review, nil
}

// outcome is what the webhook decided for one review; it is also the metrics label.
type outcome string

const (
	outcomeShaped  outcome = "shaped"  // allowed with a patch
	outcomeSkipped outcome = "skipped" // an object the webhook owns, left as it is (profile, annotation, operation)
	outcomeIgnored outcome = "ignored" // not an object the webhook shapes (non-Argo pod, other kind)
	outcomeDenied  outcome = "denied"  // refused by the profile (403)
	outcomeInvalid outcome = "invalid" // the object in the request does not decode or is bad input (400)
	outcomeError   outcome = "error"   // an internal fault, including a recovered panic (500)
)

// verdict is the handlers' answer before it becomes an AdmissionResponse.
type verdict struct {
	outcome  outcome
	patch    []byte               // JSON patch (RFC 6902); only for outcomeShaped
	warnings []string             // shown to the client by the apiserver
	message  string               // reason for denials and errors
	causes   []metav1.StatusCause // the fields of bad input, for outcomeInvalid
}

// maxWarningLen keeps warnings within what the apiserver shows without truncating them.
const maxWarningLen = 256

// response is the one place where a verdict becomes an AdmissionResponse.
func response(uid string, v verdict) *admissionv1.AdmissionResponse {
	r := &admissionv1.AdmissionResponse{UID: types.UID(uid), Allowed: true}
	for i, w := range v.warnings {
		if i == maxWarnings {
			r.Warnings = append(r.Warnings, fmt.Sprintf("argo-eci: %d more warnings left out", len(v.warnings)-i))
			break
		}
		r.Warnings = append(r.Warnings, truncate(w, maxWarningLen))
	}
	switch v.outcome {
	case outcomeShaped:
		if len(v.patch) > 0 {
			pt := admissionv1.PatchTypeJSONPatch
			r.Patch, r.PatchType = v.patch, &pt
		}
	case outcomeSkipped, outcomeIgnored:
	case outcomeDenied:
		r.Allowed = false
		r.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden,
			Reason: metav1.StatusReasonForbidden, Message: v.message}
	case outcomeInvalid:
		r.Allowed = false
		r.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest,
			Reason: metav1.StatusReasonBadRequest, Message: v.message}
		if len(v.causes) > 0 {
			r.Result.Details = &metav1.StatusDetails{Causes: v.causes}
		}
	default: // outcomeError and anything unforeseen fail closed as an internal error
		r.Allowed = false
		r.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
			Reason: metav1.StatusReasonInternalError, Message: v.message}
	}
	return r
}

// httpStatus maps request-level errors (no AdmissionReview to answer) to HTTP status codes.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadReview):
		return http.StatusBadRequest
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// encodeReview wraps a response in an AdmissionReview of the request's apiVersion.
func encodeReview(resp *admissionv1.AdmissionResponse) ([]byte, error) {
	return json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: resp,
	})
}
