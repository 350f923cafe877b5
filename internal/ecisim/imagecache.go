package ecisim

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ImageCacheResource is ECI's cluster-scoped ImageCache (eci.alibabacloud.com/v1).
var ImageCacheResource = schema.GroupVersionResource{Group: "eci.alibabacloud.com", Version: "v1", Resource: "imagecaches"}

// readyImageCaches lists the cluster's Ready ImageCache objects as caches pods can match; none
// when Dynamic is unset or the CRD is not installed.
func (s *Simulator) readyImageCaches(ctx context.Context) ([]ImageCache, error) {
	if s.Dynamic == nil {
		return nil, nil
	}
	list, err := s.Dynamic.Resource(ImageCacheResource).List(ctx, metav1.ListOptions{})
	var noKind *meta.NoKindMatchError
	if apierrors.IsNotFound(err) || errors.As(err, &noKind) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ImageCache
	for _, item := range list.Items {
		phase, _, _ := unstructured.NestedString(item.Object, "status", "phase")
		id, _, _ := unstructured.NestedString(item.Object, "status", "imageCacheId")
		images, _, _ := unstructured.NestedStringSlice(item.Object, "spec", "images")
		if phase == "Ready" && id != "" && len(images) > 0 {
			out = append(out, ImageCache{ID: id, Images: images})
		}
	}
	return out, nil
}
