package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/argo-eci/argo-eci/internal/ecisim"
)

// This file gives the e2e tests and `make demo` the ECI simulator (internal/ecisim): kwok runs a
// pod on the virtual node only after the simulator has created its ECI instance, so one must
// always play. hack/cluster/up.sh runs cmd/eci-simulator as a component; ECISimulator also starts
// one inside the test binary, which stays idle while another holds the simulator's Lease, so a
// cluster started without it still works and two never play the same pod.

// ECISimulatorNamespace holds the simulator's Lease and its cluster-wide eci-simulator ConfigMap.
const ECISimulatorNamespace = "kube-system"

// RunECISimulator runs an elected ECI simulator in this process until the returned function is
// called; that function returns the simulator's error.
func RunECISimulator(cfg *rest.Config, log *slog.Logger) (func() error, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	sim := &ecisim.Simulator{Kube: kube, Namespace: ECISimulatorNamespace, Logger: log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.RunElected(ctx, fmt.Sprintf("e2e-%s-%d", host, os.Getpid())) }()
	return func() error { cancel(); return <-done }, nil
}

var (
	simOnce sync.Once
	simErr  error
)

// ECISimulator makes sure an ECI simulator plays for the cluster: it starts one in this test binary
// (once; it lives as long as the binary) and waits until some simulator holds the Lease.
func (c *Cluster) ECISimulator(t testing.TB) {
	t.Helper()
	simOnce.Do(func() { _, simErr = RunECISimulator(c.Config, nil) })
	if simErr != nil {
		t.Fatalf("ECI simulator: %v", simErr)
	}
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		lease, err := c.Kube.CoordinationV1().Leases(ECISimulatorNamespace).Get(ctx, ecisim.LeaseName, metav1.GetOptions{})
		if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" &&
			lease.Spec.RenewTime != nil && time.Since(lease.Spec.RenewTime.Time) < 20*time.Second {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ECI simulator holds Lease %s/%s after 30s (last: %v)", ECISimulatorNamespace, ecisim.LeaseName, err)
		}
	}
}

// SetECIRegion writes namespace ns's simulated ECI region (ecisim.Config YAML: stock table, zones,
// spot market, time scale); the simulator applies it to the namespace's next decisions.
func (c *Cluster) SetECIRegion(ctx context.Context, ns string, config []byte) error {
	return ecisim.WriteConfig(ctx, c.Kube, ns, config)
}

// ECIEvents returns the events the simulator recorded in namespace ns, oldest first.
func (c *Cluster) ECIEvents(ctx context.Context, ns string) ([]corev1.Event, error) {
	list, err := c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "source=eci-simulator"})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}
