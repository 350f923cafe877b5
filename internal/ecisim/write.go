package ecisim

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
)

func key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// fail ends the pod: phase Failed with reason and message (Argo copies the message into the
// node) and the given container statuses.
func (s *Simulator) fail(ctx context.Context, pod *corev1.Pod, reason, message string, statuses []corev1.ContainerStatus) error {
	ended := reason
	if ended == "" {
		ended = "OOMKilled"
	}
	if err := s.patchAnnotations(ctx, pod, map[string]any{AnnotationEnded: ended}); err != nil {
		return err
	}
	status := map[string]any{"phase": corev1.PodFailed, "reason": reason, "message": message}
	if statuses != nil {
		status["containerStatuses"] = statuses
	}
	if err := s.patchStatus(ctx, pod, status); err != nil {
		return err
	}
	s.Logger.Info("eci simulator: pod failed", "pod", key(pod), "reason", ended, "message", message)
	if reason != "" {
		s.event(ctx, pod, corev1.EventTypeWarning, reason, message)
	}
	return nil
}

// exited is every container of pod terminated with code and reason.
func exited(pod *corev1.Pod, code int32, reason string) []corev1.ContainerStatus {
	now := metav1.Now()
	out := make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		started := now
		for _, st := range pod.Status.ContainerStatuses {
			if st.Name == c.Name && st.State.Running != nil {
				started = st.State.Running.StartedAt
			}
		}
		out = append(out, corev1.ContainerStatus{Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: now}}})
	}
	return out
}

func hasCondition(pod *corev1.Pod, typ string, status corev1.ConditionStatus) bool {
	for _, c := range pod.Status.Conditions {
		if string(c.Type) == typ && c.Status == status {
			return true
		}
	}
	return false
}

func (s *Simulator) patchAnnotations(ctx context.Context, pod *corev1.Pod, ann map[string]any) error {
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return err
	}
	if _, err := s.Kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, data, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotate %s: %w", key(pod), err)
	}
	return nil
}

// patchStatus strategic-merges status into the pod's status (conditions merge by type,
// container statuses by name).
func (s *Simulator) patchStatus(ctx context.Context, pod *corev1.Pod, status map[string]any) error {
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if _, err := s.Kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("status of %s: %w", key(pod), err)
	}
	return nil
}

// event records a decision on the pod; a failure to record is logged, not returned.
func (s *Simulator) event(ctx context.Context, pod *corev1.Pod, typ, reason, message string) {
	now := s.now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name + "." + rand.String(10), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Reason: reason, Message: message, Type: typ, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "eci-simulator"},
	}
	if _, err := s.Kube.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		s.Logger.Warn("eci simulator: event not recorded", "pod", key(pod), "reason", reason, "err", err)
	}
}

// WriteConfig validates data and stores it as the eci-simulator ConfigMap of namespace, which the
// running simulator picks up at its next decision.
func WriteConfig(ctx context.Context, kube kubernetes.Interface, namespace string, data []byte) error {
	if _, err := ParseConfig(data); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: namespace},
		Data: map[string]string{ConfigKey: string(data)}}
	_, err := kube.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = kube.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", namespace, ConfigMapName, err)
	}
	return nil
}
