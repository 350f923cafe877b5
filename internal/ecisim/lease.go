package ecisim

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaseName is the Lease (in the simulator's namespace) that lets only one simulator play ECI at a
// time, whether it runs as hack/cluster's process or inside a test binary.
const LeaseName = "eci-simulator"

// RunElected runs the simulator while it holds the Lease LeaseName under identity, and returns
// when ctx ends. Another simulator holding the Lease keeps this one idle; the Lease is released on
// return so a successor takes over at once.
func (s *Simulator) RunElected(ctx context.Context, identity string) error {
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, s.Namespace, LeaseName,
		s.Kube.CoreV1(), s.Kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return fmt.Errorf("ecisim lease: %w", err)
	}
	var runErr error
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		ReleaseOnCancel: true, Name: LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { runErr = s.Run(ctx) },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return fmt.Errorf("ecisim lease: %w", err)
	}
	for ctx.Err() == nil {
		elector.Run(ctx) // returns when leadership is lost or ctx ends
		if runErr != nil {
			return runErr
		}
	}
	return nil
}
