package firstseen

import (
	"testing"
	"time"
)

func TestSeen(t *testing.T) {
	var tr Tracker
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if got := tr.Seen("a", t0); !got.Equal(t0) {
		t.Fatalf("first sight: %v, want %v", got, t0)
	}
	if got := tr.Seen("a", t0.Add(time.Minute)); !got.Equal(t0) {
		t.Fatalf("second sight: %v, want the first %v", got, t0)
	}
	// A new key after Forget drops the stale one, which then counts as new.
	later := t0.Add(Forget + time.Hour)
	tr.Seen("b", later)
	if got := tr.Seen("a", later); !got.Equal(later) {
		t.Fatalf("after %s: %v, want a fresh %v", Forget, got, later)
	}
}
