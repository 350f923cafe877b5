package artifacts

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"strings"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// maxListReply bounds the keys ListObjects returns: Argo's plugin client accepts gRPC messages
// of at most 4 MiB (grpc-go's default), so a longer reply would reach it only as
// ResourceExhausted. The margin covers the message framing.
const maxListReply = 4<<20 - 64<<10

func crc64Of(b []byte) uint64 { return crc64.Checksum(b, crcTable) }

// head returns the object's size and CRC, ErrNotFound if it does not exist.
func (b *Bucket) head(ctx context.Context, key string) (int64, string, error) {
	res, err := b.client.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: &b.cfg.Bucket, Key: &key})
	if isNotFound(err) {
		return 0, "", fmt.Errorf("%w: oss://%s/%s", ErrNotFound, b.cfg.Bucket, key)
	}
	if err != nil {
		return 0, "", fmt.Errorf("head oss://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	return res.ContentLength, res.Headers.Get(headerCRC64), nil
}

// object is one listed object.
type object struct {
	key  string
	size int64
}

// listDirectory lists the objects of the directory artifact at key with their paths relative
// to it; an empty listing is ErrNotFound, as no object marks an empty directory.
func (b *Bucket) listDirectory(ctx context.Context, key string) (location, []object, error) {
	loc, err := b.locate(ctx, key)
	if err != nil {
		return loc, nil, err
	}
	objs, err := b.list(ctx, loc.prefix, listPage)
	if err != nil {
		return loc, nil, err
	}
	if !loc.managed {
		kept := objs[:0]
		for _, o := range objs {
			if !reserved(strings.TrimPrefix(o.key, loc.prefix)) {
				kept = append(kept, o)
			}
		}
		objs = kept
	}
	if len(objs) == 0 {
		return loc, nil, fmt.Errorf("%w: oss://%s/%s", ErrNotFound, b.cfg.Bucket, key)
	}
	return loc, objs, nil
}

// list returns every object under prefix (only the first page when limit < listPage).
func (b *Bucket) list(ctx context.Context, prefix string, limit int32) ([]object, error) {
	p := b.client.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: &b.cfg.Bucket, Prefix: &prefix, MaxKeys: limit})
	var out []object
	for p.HasNext() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list oss://%s/%s: %w", b.cfg.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, object{key: oss.ToString(o.Key), size: o.Size})
		}
		if limit < listPage && len(out) > 0 {
			break
		}
	}
	return out, nil
}

// IsDirectory reports whether key is a directory artifact: it ends with "/" or objects exist
// under it (or under the generation it resolves to).
func (b *Bucket) IsDirectory(ctx context.Context, key string) (bool, error) {
	key, err := normalizeKey(key)
	if err != nil {
		return false, err
	}
	if strings.HasSuffix(key, "/") {
		return true, nil
	}
	objs, err := b.list(ctx, dirPrefix(key), 1)
	if err != nil || len(objs) > 0 {
		return len(objs) > 0, err
	}
	loc, err := b.locate(ctx, key)
	if err != nil || !loc.managed {
		return false, err
	}
	objs, err = b.list(ctx, loc.prefix, 1)
	return len(objs) > 0, err
}

// ListObjects returns the keys of the artifact: key itself for a file; for a directory the
// keys of its files as Argo addresses them (key + "/" + relative path), without markers of
// empty directories. A listing longer than Argo's client accepts is ErrTooLarge.
func (b *Bucket) ListObjects(ctx context.Context, key string) ([]string, error) {
	key, err := normalizeKey(key)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(key, "/") {
		_, _, err := b.head(ctx, key)
		if err == nil {
			return []string{key}, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	loc, objs, err := b.listDirectory(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var (
		keys  []string
		bytes int
	)
	for _, o := range objs {
		rel := strings.TrimPrefix(o.key, loc.prefix)
		if rel == "" || strings.HasSuffix(rel, "/") {
			continue
		}
		k := dirPrefix(key) + rel
		bytes += len(k) + 8 // protobuf tag and length prefix, generously
		if bytes > maxListReply {
			return nil, fmt.Errorf("%w: oss://%s/%s holds %d objects; their keys exceed the 4 MiB a gRPC message to Argo may carry", ErrTooLarge, b.cfg.Bucket, key, len(objs))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Delete removes the artifact at key: the object at key if there is one, and nothing else
// (other artifacts may live under key + "/"); otherwise the directory artifact, every object
// under key + "/". Deleting something that does not exist succeeds.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(key, "/") {
		_, _, err := b.head(ctx, key)
		if err == nil {
			return b.deleteKeys(ctx, []string{key})
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	objs, err := b.list(ctx, dirPrefix(key), listPage)
	if err != nil {
		return err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.key
	}
	return b.deleteKeys(ctx, keys)
}

func (b *Bucket) deleteKeys(ctx context.Context, keys []string) error {
	for start := 0; start < len(keys); start += deleteBatch {
		batch := keys[start:min(start+deleteBatch, len(keys))]
		objs := make([]oss.ObjectIdentifier, len(batch))
		for i := range batch {
			objs[i] = oss.ObjectIdentifier{Key: &batch[i]}
		}
		_, err := b.client.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{
			Bucket: &b.cfg.Bucket, Delete: &oss.Delete{Objects: objs, Quiet: true},
		})
		if err != nil {
			return fmt.Errorf("delete %d objects from oss://%s: %w", len(batch), b.cfg.Bucket, err)
		}
	}
	return nil
}
