package depspin

import (
	_ "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	_ "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	_ "github.com/argoproj/argo-workflows/v4/pkg/apiclient/artifact"
	_ "github.com/argoproj/argo-workflows/v4/workflow/artifacts/plugin"
	_ "github.com/argoproj/argo-workflows/v4/workflow/artifacts/oss"
	_ "github.com/argoproj/argo-workflows/v4/workflow/executor"
	_ "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	_ "github.com/gorilla/mux"
	_ "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	_ "github.com/johannesboyne/gofakes3"
	_ "github.com/spf13/cobra"
	_ "gomodules.xyz/jsonpatch/v2"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/controller-runtime/pkg/certwatcher"
	_ "sigs.k8s.io/yaml"
	_ "github.com/prometheus/client_golang/prometheus"
)
