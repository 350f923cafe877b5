package osstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signature algorithm names as they appear in the Authorization header.
const (
	algorithmV4 = "OSS4-HMAC-SHA256"
	algorithmV1 = "OSS"
	v4Terminal  = "aliyun_v4_request"
	v4Service   = "oss"
	maxSkew     = 15 * time.Minute
)

// AuthError is a rejected request's OSS error: Code is the OSS error code
// (SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed, AccessDenied,
// InvalidArgument) and Message says what was wrong. It never contains a secret.
type AuthError struct {
	Code    string
	Message string
}

func (e *AuthError) Error() string { return e.Code + ": " + e.Message }

func authErr(code, format string, args ...any) *AuthError {
	return &AuthError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Authorization is a parsed Authorization header.
type Authorization struct {
	// Algorithm is "OSS4-HMAC-SHA256" (V4) or "OSS" (V1).
	Algorithm string
	// AccessKeyID names the credential that signed the request.
	AccessKeyID string
	// Date (YYYYMMDD) and Region are the V4 credential scope; empty for V1.
	Date, Region string
	// AdditionalHeaders are the V4 optional signed header names, lower case, sorted.
	AdditionalHeaders []string
	// Signature is hex (V4) or base64 (V1).
	Signature string
}

// ParseAuthorization parses an OSS V4 ("OSS4-HMAC-SHA256 Credential=AK/DATE/REGION/oss/aliyun_v4_request,
// AdditionalHeaders=a;b, Signature=HEX") or V1 ("OSS AK:BASE64") Authorization header value.
func ParseAuthorization(value string) (*Authorization, error) {
	algo, rest, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok {
		return nil, authErr("InvalidArgument", "authorization header has no algorithm and credential parts")
	}
	rest = strings.TrimSpace(rest)
	switch algo {
	case algorithmV1:
		ak, sig, ok := strings.Cut(rest, ":")
		if !ok || ak == "" || sig == "" || strings.ContainsAny(ak, " ,") {
			return nil, authErr("InvalidArgument", "V1 authorization must be \"OSS <AccessKeyId>:<Signature>\"")
		}
		if _, err := base64.StdEncoding.DecodeString(sig); err != nil {
			return nil, authErr("InvalidArgument", "V1 signature is not base64")
		}
		return &Authorization{Algorithm: algorithmV1, AccessKeyID: ak, Signature: sig}, nil
	case algorithmV4:
		return parseV4(rest)
	default:
		return nil, authErr("InvalidArgument", "unsupported authorization algorithm %q (want %s or %s)", truncate(algo, 32), algorithmV4, algorithmV1)
	}
}

func parseV4(rest string) (*Authorization, error) {
	a := &Authorization{Algorithm: algorithmV4}
	seen := map[string]bool{}
	for _, field := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return nil, authErr("InvalidArgument", "V4 authorization field %q is not key=value", truncate(field, 32))
		}
		if seen[k] {
			return nil, authErr("InvalidArgument", "V4 authorization field %q repeated", truncate(k, 32))
		}
		seen[k] = true
		switch k {
		case "Credential":
			parts := strings.Split(v, "/")
			if len(parts) != 5 || parts[0] == "" || parts[3] != v4Service || parts[4] != v4Terminal {
				return nil, authErr("InvalidArgument", "V4 Credential must be <AccessKeyId>/<YYYYMMDD>/<region>/oss/aliyun_v4_request")
			}
			if _, err := time.Parse("20060102", parts[1]); err != nil {
				return nil, authErr("InvalidArgument", "V4 Credential date %q is not YYYYMMDD", truncate(parts[1], 16))
			}
			if parts[2] == "" {
				return nil, authErr("InvalidArgument", "V4 Credential has an empty region")
			}
			a.AccessKeyID, a.Date, a.Region = parts[0], parts[1], parts[2]
		case "AdditionalHeaders":
			for _, h := range strings.Split(v, ";") {
				if h == "" || h != strings.ToLower(h) {
					return nil, authErr("InvalidArgument", "V4 AdditionalHeaders must be lower-case names separated by ';'")
				}
				a.AdditionalHeaders = append(a.AdditionalHeaders, h)
			}
			if !sort.StringsAreSorted(a.AdditionalHeaders) {
				return nil, authErr("InvalidArgument", "V4 AdditionalHeaders must be sorted")
			}
		case "Signature":
			if len(v) != 64 {
				return nil, authErr("InvalidArgument", "V4 Signature must be 64 hex digits")
			}
			if _, err := hex.DecodeString(v); err != nil {
				return nil, authErr("InvalidArgument", "V4 Signature must be 64 hex digits")
			}
			a.Signature = v
		default:
			return nil, authErr("InvalidArgument", "unknown V4 authorization field %q", truncate(k, 32))
		}
	}
	if a.AccessKeyID == "" {
		return nil, authErr("InvalidArgument", "V4 authorization has no Credential")
	}
	if a.Signature == "" {
		return nil, authErr("InvalidArgument", "V4 authorization has no Signature")
	}
	return a, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// verifier checks request signatures against one credential.
type verifier struct {
	accessKeyID, secret, region string
	acceptV1                    bool
	now                         func() time.Time
	// more are further accepted access keys (id -> secret); replaced, never modified.
	more map[string]string
}

// verify authenticates r. bucket and key are the request's decoded bucket and object names.
func (v *verifier) verify(r *http.Request, bucket, key string) error {
	value := r.Header.Get("Authorization")
	if value == "" {
		return authErr("AccessDenied", "anonymous access is not allowed: the request has no Authorization header")
	}
	a, err := ParseAuthorization(value)
	if err != nil {
		return err
	}
	if a.AccessKeyID != v.accessKeyID {
		secret, ok := v.more[a.AccessKeyID]
		if !ok {
			return authErr("InvalidAccessKeyId", "the OSS access key id %q does not exist", truncate(a.AccessKeyID, 64))
		}
		other := *v
		other.accessKeyID, other.secret = a.AccessKeyID, secret
		v = &other
	}
	switch a.Algorithm {
	case algorithmV4:
		return v.verifyV4(r, a, bucket, key)
	default:
		if !v.acceptV1 {
			return authErr("AccessDenied", "V1 signatures are disabled on this server; sign with OSS4-HMAC-SHA256")
		}
		return v.verifyV1(r, a, bucket, key)
	}
}

func (v *verifier) verifyV4(r *http.Request, a *Authorization, bucket, key string) error {
	stamp := r.Header.Get("x-oss-date")
	t, err := time.Parse("20060102T150405Z", stamp)
	if err != nil {
		return authErr("AccessDenied", "V4 request needs an x-oss-date header in ISO 8601 basic format")
	}
	if d := v.now().Sub(t); d > maxSkew || d < -maxSkew {
		return authErr("RequestTimeTooSkewed", "the difference between the request time and the server's time is too large")
	}
	if a.Date != t.Format("20060102") {
		return authErr("SignatureDoesNotMatch", "credential scope date %s does not match x-oss-date %s", a.Date, stamp)
	}
	if a.Region != v.region {
		return authErr("SignatureDoesNotMatch", "credential scope region %q does not match the server's region %q", truncate(a.Region, 64), v.region)
	}
	payload := r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		return authErr("AccessDenied", "V4 request needs an x-oss-content-sha256 header")
	}
	canonical := canonicalRequestV4(r, a.AdditionalHeaders, bucket, key, payload)
	sum := sha256.Sum256([]byte(canonical))
	scope := a.Date + "/" + a.Region + "/" + v4Service + "/" + v4Terminal
	stringToSign := algorithmV4 + "\n" + stamp + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("aliyun_v4"+v.secret), a.Date)
	k = hmacSHA256(k, a.Region)
	k = hmacSHA256(k, v4Service)
	k = hmacSHA256(k, v4Terminal)
	want := hex.EncodeToString(hmacSHA256(k, stringToSign))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return authErr("SignatureDoesNotMatch", "the request signature we calculated does not match the signature you provided; check your AccessKey secret and signing method")
	}
	return nil
}

// canonicalRequestV4 builds the V4 canonical request: method, canonical URI, canonical query,
// canonical headers, additional header names and the payload hash, separated by newlines.
func canonicalRequestV4(r *http.Request, additional []string, bucket, key, payload string) string {
	uri := "/"
	if bucket != "" {
		uri += bucket + "/" + key
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uriEncode(uri, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')

	signed := map[string]bool{}
	for _, h := range additional {
		signed[h] = true
	}
	headers := map[string]string{}
	for name, values := range r.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-oss-") || l == "content-type" || l == "content-md5" || signed[l] {
			headers[l] = strings.TrimSpace(strings.Join(values, ","))
		}
	}
	if signed["host"] {
		headers["host"] = r.Host
	}
	if signed["content-length"] && r.Header.Get("Content-Length") == "" && r.ContentLength >= 0 {
		headers["content-length"] = fmt.Sprint(r.ContentLength)
	}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(headers[n])
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(additional, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

func canonicalQuery(q url.Values) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, kv{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		if p.v == "" {
			parts[i] = p.k
		} else {
			parts[i] = p.k + "=" + p.v
		}
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes every byte except the unreserved characters (and '/' unless
// encodeSlash), with upper-case hex digits.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// v1SubResources are the query parameters that take part in a V1 CanonicalizedResource.
var v1SubResources = map[string]bool{
	"acl": true, "uploads": true, "location": true, "cors": true, "logging": true, "website": true,
	"referer": true, "lifecycle": true, "delete": true, "append": true, "tagging": true, "objectMeta": true,
	"uploadId": true, "partNumber": true, "security-token": true, "position": true, "img": true,
	"style": true, "styleName": true, "replication": true, "replicationProgress": true,
	"replicationLocation": true, "cname": true, "bucketInfo": true, "comp": true, "qos": true,
	"live": true, "status": true, "vod": true, "startTime": true, "endTime": true, "symlink": true,
	"x-oss-process": true, "response-content-type": true, "response-content-language": true,
	"response-expires": true, "response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "udf": true, "udfName": true, "udfImage": true, "udfId": true,
	"udfImageDesc": true, "udfApplication": true, "udfApplicationLog": true, "restore": true,
	"callback": true, "callback-var": true, "versioning": true, "versionId": true, "versions": true,
	"encryption": true, "policy": true, "requestPayment": true, "worm": true, "wormId": true,
	"wormExtend": true, "objectInfo": true, "stat": true,
}

func (v *verifier) verifyV1(r *http.Request, a *Authorization, bucket, key string) error {
	date := r.Header.Get("Date")
	if x := r.Header.Get("x-oss-date"); x != "" {
		date = x
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return authErr("AccessDenied", "V1 request needs a Date header in RFC 1123 format")
	}
	if d := v.now().Sub(t); d > maxSkew || d < -maxSkew {
		return authErr("RequestTimeTooSkewed", "the difference between the request time and the server's time is too large")
	}
	var ossHeaders []string
	for name, values := range r.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-oss-") {
			ossHeaders = append(ossHeaders, l+":"+strings.TrimSpace(strings.Join(values, ",")))
		}
	}
	sort.Strings(ossHeaders)
	resource := "/"
	if bucket != "" {
		resource += bucket + "/" + key
	}
	var subs []string
	for k, vs := range r.URL.Query() {
		if !v1SubResources[k] {
			continue
		}
		for _, val := range vs {
			if val == "" {
				subs = append(subs, k)
			} else {
				subs = append(subs, k+"="+val)
			}
		}
	}
	sort.Strings(subs)
	if len(subs) > 0 {
		resource += "?" + strings.Join(subs, "&")
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n")
	for _, h := range ossHeaders {
		b.WriteString(h + "\n")
	}
	b.WriteString(resource)
	m := hmac.New(sha1.New, []byte(v.secret))
	m.Write([]byte(b.String()))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return authErr("SignatureDoesNotMatch", "the request signature we calculated does not match the signature you provided; check your AccessKey secret and signing method")
	}
	return nil
}

// IsAuthError reports whether err is an AuthError with the given OSS code.
func IsAuthError(err error, code string) bool {
	var ae *AuthError
	return errors.As(err, &ae) && ae.Code == code
}
