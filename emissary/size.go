package emissary

import (
	"encoding/json"
	"fmt"
)

// DefaultMaxObjectBytes is the largest shaped Workflow, CronWorkflow or WorkflowTemplate argo-eci
// produces: 1.4 MiB, below etcd's default request limit of 1.5 MiB (--max-request-bytes), over
// which the apiserver refuses to store an object ("etcdserver: request is too large"). The margin
// leaves room for what the apiserver adds (managedFields, status).
const DefaultMaxObjectBytes = 1468006

// SizeFinding reports a shaped object of kind and size bytes (its JSON encoding) above limit: its
// pods would never run, since the apiserver refuses to store it. It returns nil when the object
// fits or limit is not positive.
func SizeFinding(kind string, size, limit int) *Finding {
	if limit <= 0 || size <= limit {
		return nil
	}
	return &Finding{Code: CodeTooLarge, Severity: SeverityError,
		Message: fmt.Sprintf("the shaped %s is %d bytes (%.2f MiB), above the limit of %d bytes (%.2f MiB): the apiserver refuses objects over etcd's request limit (1.5 MiB by default)",
			kind, size, mib(size), limit, mib(limit)),
		Hint: "submit the workflow unrendered (the pod webhook shapes each pod when it is created), or split it into smaller workflows"}
}

// ObjectSize is the size of obj's JSON encoding, as a client sends it to the apiserver.
func ObjectSize(obj any) (int, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return 0, err
	}
	return len(data), nil
}

func mib(n int) float64 { return float64(n) / (1 << 20) }
