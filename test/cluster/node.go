package cluster

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node is one of the two ECI-like virtual nodes of the local cluster. Both carry the label
// type=virtual-kubelet and the taint virtual-kubelet.io/provider=alibabacloud:NoSchedule, as ACK's
// virtual nodes do; LabelNode tells them apart.
type Node string

const (
	// Kwok is the kwok node NodeName: pods are simulated (see the package comment), thousands fit.
	Kwok Node = "kwok"
	// Kubelet is the real node RealNodeName: kubelet v1.33 with containerd and runc, where pods
	// really run — Argo's init, wait and emissary containers, agent pods with their plugin
	// sidecar, the artifact plugin's init container and sidecar. Two shared cores: keep requests small.
	Kubelet Node = "kubelet"

	// RealNodeName is the kubelet node's name.
	RealNodeName = "virtual-kubelet-cn-hangzhou-j"
	// LabelNode holds "kwok" or "kubelet" on the two nodes.
	LabelNode = "test.argo-eci.io/node"
	// annotationNodeSelector is the PodNodeSelector admission plugin's namespace annotation: the
	// apiserver merges it into every pod of the namespace (without it: the kwok node).
	annotationNodeSelector = "scheduler.alpha.kubernetes.io/node-selector"

	// podServiceIP is the address pods reach the test process's servers at (ExposeToPods): one
	// DNAT rule per port to 127.0.0.1, in the Service range 198.19.0.0/16.
	podServiceIP = "198.19.255.254"
	// natChain is the nat chain hack/cluster/node.sh jumps to for traffic from the pod bridge.
	natChain = "ARGO-ECI-SERVICES"
)

// NodeNameOf is the name of node n.
func NodeNameOf(n Node) string {
	if n == Kubelet {
		return RealNodeName
	}
	return NodeName
}

// Images on the kubelet node (hack/cluster/registry builds and serves them; nothing else can be
// pulled here).
const (
	// BusyboxImage is Debian's static busybox with its applets: sh, cat, sleep, md5sum, tar, ...
	BusyboxImage = "busybox:1.36"
	// ArgoECIImage is this repository's binary, laid out as the Dockerfile does.
	ArgoECIImage = "argo-eci/argo-eci:latest"
)

var exposeMu sync.Mutex

// ExposeToPods makes the server at addr (127.0.0.1:PORT) reachable from pods on the kubelet node
// and returns the address pods use, 198.19.255.254:PORT (a DNAT rule in the nat table, the way a
// Service without kube-proxy would be). remove deletes the rule.
func ExposeToPods(addr string) (podAddr string, remove func() error, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("expose %q: %w", addr, err)
	}
	if host != "127.0.0.1" {
		return "", nil, fmt.Errorf("expose %q: only servers on 127.0.0.1 can be exposed", addr)
	}
	rule := []string{natChain, "-d", podServiceIP, "-p", "tcp", "--dport", port, "-j", "DNAT", "--to-destination", addr}
	if err := iptables(append([]string{"-A"}, rule...)...); err != nil {
		return "", nil, err
	}
	remove = func() error { return iptables(append([]string{"-D"}, rule...)...) }
	return net.JoinHostPort(podServiceIP, port), remove, nil
}

func iptables(args ...string) error {
	exposeMu.Lock()
	defer exposeMu.Unlock()
	out, err := exec.Command("iptables", append([]string{"-w", "-t", "nat"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// grantExecutor gives the namespace's default ServiceAccount what Argo's executor (the wait
// container, running as the workflow's ServiceAccount) needs to report outputs, as Argo's install
// documentation asks for every workflow namespace (WorkflowTaskResults create and patch), and
// what its artifact GC pods need (Argo's recommended "artifactgc" Role), and the token Secret of
// the ServiceAccount that Argo's agent pods mount.
func (c *Cluster) grantExecutor(ctx context.Context, ns string) error {
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "argo-executor"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}},
			// Argo's "artifactgc" role, for the artifact GC pods.
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowartifactgctasks"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowartifactgctasks/status"}, Verbs: []string{"patch"}},
		},
	}
	if _, err := c.Kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create Role argo-executor: %w", err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "argo-executor"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}},
	}
	if _, err := c.Kube.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create RoleBinding argo-executor: %w", err)
	}
	// Argo mounts the workflow ServiceAccount's token into agent pods from the Secret
	// <sa>.service-account-token, which must exist (Argo's "Service Account Secrets" docs).
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "default.service-account-token",
		Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}, Type: corev1.SecretTypeServiceAccountToken}
	if _, err := c.Kube.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create Secret %s: %w", secret.Name, err)
	}
	return nil
}
