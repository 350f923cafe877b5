// Package firstseen remembers when a long-lived process first saw a key: the plugin's timeout
// anchor for work that has no Kubernetes object (and so no creationTimestamp) yet.
package firstseen

import (
	"sync"
	"time"
)

// Forget is how long a key is remembered; older keys are dropped so the map stays small.
const Forget = 24 * time.Hour

// Tracker is safe for concurrent use; its zero value is ready.
type Tracker struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// Seen returns when key was first seen, recording now if it is new.
func (t *Tracker) Seen(key string, now time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if first, ok := t.seen[key]; ok {
		return first
	}
	if t.seen == nil {
		t.seen = map[string]time.Time{}
	}
	for k, first := range t.seen {
		if now.Sub(first) > Forget {
			delete(t.seen, k)
		}
	}
	t.seen[key] = now
	return now
}
