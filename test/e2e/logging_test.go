//go:build e2e

package e2e

import (
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// controller-runtime pieces (the certificate watcher, clients) log through its global logger;
// route it to stderr at warning level, as the argo-eci binary does.
func init() {
	ctrllog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
