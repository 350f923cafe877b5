package webhook

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/badinput"
)

// recorder is a slog handler keeping the messages of the records it handles.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// count returns how many records had message msg.
func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

const rejectedMsg = "profiles rejected; keeping the previous profiles"

// Load returns a rejection to its caller and does not also log it: the caller reports it once.
func TestEngineStoreLoadReturnsErrorsWithoutLogging(t *testing.T) {
	rec := &recorder{}
	store := &EngineStore{Logger: slog.New(rec)}
	bad := []byte("default: nope\nprofiles: {}\n")
	changed, err := store.Load("file", "test", bad)
	var bi *badinput.Error
	if !changed || !errors.As(err, &bi) || bi.Field() != "default" {
		t.Fatalf("first bad load: changed %v, error %v; want a new *badinput.Error at default", changed, err)
	}
	if n := len(rec.msgs); n != 0 {
		t.Fatalf("Load logged %q besides returning the error", rec.msgs)
	}
	changed, again := store.Load("file", "test", bad)
	if changed || again != err {
		t.Fatalf("same bad data again: changed %v, error %v; want the same error, not new", changed, again)
	}
	if changed, err := store.Load("file", "test", []byte(profilesNamed("alpha"))); !changed || err != nil {
		t.Fatalf("good data: changed %v, error %v", changed, err)
	}
	if rec.count("profiles loaded") != 1 || rec.count(rejectedMsg) != 0 {
		t.Fatalf("log records %q, want one load and no rejection", rec.msgs)
	}
}

// A bad file at start-up is returned, not logged; while running, each bad content is logged once.
func TestProfileFileReportsRejectionsOnce(t *testing.T) {
	rec := &recorder{}
	store := &EngineStore{Logger: slog.New(rec)}
	path := filepath.Join(t.TempDir(), "profiles.yaml")
	writeAtomic(t, path, "profiles: [1]\n")
	pf := &ProfileFile{Path: path, Store: store, Interval: 20 * time.Millisecond}
	if err := pf.Load(); !errors.As(err, new(*badinput.Error)) {
		t.Fatalf("bad file at start-up: %v, want a *badinput.Error", err)
	}
	if n := rec.count(rejectedMsg); n != 0 {
		t.Fatalf("start-up rejection logged %d times besides being returned", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pf.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	writeAtomic(t, path, "profiles: [2]\n")
	eventually(t, "the new bad file to be logged", func() bool { return rec.count(rejectedMsg) == 1 })
	time.Sleep(200 * time.Millisecond) // ten polls of the same bad file
	if n := rec.count(rejectedMsg); n != 1 {
		t.Fatalf("one bad file logged %d times, want 1", n)
	}
	writeAtomic(t, path, profilesNamed("alpha"))
	eventually(t, "the good file to load", func() bool { return store.Current() != nil })
}
