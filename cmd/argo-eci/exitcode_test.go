package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/argo-eci/argo-eci/badinput"
)

func TestExitCode(t *testing.T) {
	bad := badinput.Errorf("profiles.standard.sizing", "expected declared or learned")
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"none", nil, 0},
		{"other", errors.New("connection refused"), 1},
		{"carried code", &exitError{code: 1, err: bad}, 1},
		{"bad input", bad, 2},
		{"wrapped bad input", fmt.Errorf("merged argo-eci-sizing would not parse: %w", bad), 2},
		{"text alone is not bad input", errors.New(bad.Error()), 1},
	}
	for _, tc := range cases {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}
