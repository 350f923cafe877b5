package plugin_test

import (
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"

	"github.com/argo-eci/argo-eci/plugin"
)

// A template with a bad field fails its node with a message naming the field; a foreign template
// gets an empty reply so the agent asks its next plugin; a Running node always carries a requeue.
func ExampleReply() {
	bad := `{"workflow":{"metadata":{"name":"wf","namespace":"ns","uid":"u1"}},` +
		`"template":{"name":"warm","plugin":{"argo-eci":{"dataset":{"name":"data","timeout":"soon"}}}}}`
	_, mine, err := plugin.DecodeRequest([]byte(bad))
	r := plugin.Reply(executorplugins.ExecuteTemplateReply{}, err)
	fmt.Println(mine, r.Status, r.Body.Node.Phase, r.Body.Node.Message)

	foreign := `{"workflow":{"metadata":{"name":"wf","namespace":"ns","uid":"u1"}},` +
		`"template":{"name":"notify","plugin":{"slack":{"text":"done"}}}}`
	_, mine, err = plugin.DecodeRequest([]byte(foreign))
	r = plugin.Reply(executorplugins.ExecuteTemplateReply{}, err)
	fmt.Println(mine, r.Status, r.Body.Node == nil)

	r = plugin.Reply(executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeRunning}}, nil)
	fmt.Println(r.Status, r.Body.Node.Phase, r.Body.GetRequeue())
	// Output:
	// true 200 Failed argo-eci.dataset.timeout: Invalid value: "soon": expected a duration such as "30m" or "2h"
	// false 200 true
	// 200 Running 10s
}
