package webhook

import (
	"context"
	"fmt"

	jsonpatch5 "github.com/evanphx/json-patch/v5"

	"github.com/argo-eci/argo-eci/emissary"
)

// maxObjectBytes is the largest shaped workflow object the webhook lets through.
func (s *Server) maxObjectBytes() int {
	if s.MaxObjectBytes == 0 {
		return emissary.DefaultMaxObjectBytes
	}
	return s.MaxObjectBytes
}

// guardSize keeps the webhook from producing an object the apiserver refuses to store: when raw
// with v's patch applied is larger than MaxObjectBytes, the object is admitted as it came, with a
// warning. Its pods are still shaped one by one by /mutate/pods when the controller creates them;
// only what the workflow alone can carry (retryStrategy, workflow-level placement) is missing.
func (s *Server) guardSize(ctx context.Context, kind string, raw []byte, v verdict) verdict {
	limit := s.maxObjectBytes()
	if v.outcome != outcomeShaped || limit < 0 || len(raw)+len(v.patch) <= limit {
		// Every operation's value is at least as long as what it adds: raw+patch bounds the result.
		return v
	}
	size, err := patchedSize(raw, v.patch)
	if err != nil {
		return verdict{outcome: outcomeError, message: "argo-eci: measuring the shaped object: " + err.Error()}
	}
	f := emissary.SizeFinding(kind, size, limit)
	if f == nil {
		return v
	}
	Logger(ctx).Warn("shaped workflow too large; left unshaped", "kind", kind, "bytes", size, "limit", limit, "unshapedBytes", len(raw))
	w := fmt.Sprintf("argo-eci: %s; left unshaped: its pods are shaped when they are created (retryStrategy for ECI failures is not added); raise --max-object-bytes only if etcd's --max-request-bytes allows it", f.Message)
	return verdict{outcome: outcomeSkipped, warnings: append(v.warnings, w)}
}

// patchedSize is the size of raw with the JSON patch applied.
func patchedSize(raw, patch []byte) (int, error) {
	p, err := jsonpatch5.DecodePatch(patch)
	if err != nil {
		return 0, err
	}
	out, err := p.Apply(raw)
	if err != nil {
		return 0, err
	}
	return len(out), nil
}
