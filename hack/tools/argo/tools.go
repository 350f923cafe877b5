//go:build tools

// Package argo pins the Argo Workflows commands built by hack/cluster/build.sh.
package argo

import (
	_ "github.com/argoproj/argo-workflows/v4/cmd/argoexec"
	_ "github.com/argoproj/argo-workflows/v4/cmd/workflow-controller"
)
