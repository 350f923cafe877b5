package emissary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "sigs.k8s.io/json"
)

// Stream is a YAML or JSON stream of Kubernetes objects as `kubectl apply -f` reads it: several
// documents, List objects, any kinds. Render edits the documents in place, so everything argo-eci
// does not change — fields the Argo v4.0.7 types do not know, comments, key order, other kinds —
// comes out as the user wrote it.
type Stream struct {
	docs []*yaml.Node
	// indentedSeqs: the input indents list items under their key ("key:\n  - a"); most
	// Kubernetes YAML writes them at the key's column, which Encode keeps.
	indentedSeqs bool
	// Objects are the objects of the stream in order (List items in place of their List).
	Objects []*StreamObject
}

// StreamObject is one object of a Stream.
type StreamObject struct {
	// Where names the object for messages: "document 2" or "document 1 items[3]".
	Where      string
	APIVersion string
	Kind       string
	Name       string
	// Object is the decoded Workflow, CronWorkflow, WorkflowTemplate, ClusterWorkflowTemplate or
	// Pod; nil for other kinds, which render passes through untouched.
	Object runtime.Object
	// Unknown lists the fields the Argo v4.0.7 types do not know (older or newer Argo versions);
	// they are kept as written.
	Unknown []string
	node    *yaml.Node
}

// ParseStream parses a YAML or JSON stream. An Argo object that Argo's own types cannot hold is a
// *badinput.Error naming the document and the field; unknown fields are not errors (see Unknown).
func ParseStream(data []byte) (*Stream, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fieldError("input", "empty document")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	s := &Stream{indentedSeqs: indentsSequences(data)}
	for n := 1; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fieldErrorf(fmt.Sprintf("document %d", n), "malformed YAML/JSON: %v", err)
		}
		s.docs = append(s.docs, &doc)
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue
		}
		if err := s.addObject(doc.Content[0], fmt.Sprintf("document %d", n)); err != nil {
			return nil, err
		}
	}
	if len(s.Objects) == 0 {
		return nil, fieldError("input", "no object in the stream")
	}
	return s, nil
}

// addObject adds one object node; a List adds its items.
func (s *Stream) addObject(node *yaml.Node, where string) error {
	if node.Kind != yaml.MappingNode {
		return fieldErrorf(where, "expected a Kubernetes object (a mapping), got %s", nodeKind(node))
	}
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name         string `yaml:"name"`
			GenerateName string `yaml:"generateName"`
		} `yaml:"metadata"`
	}
	_ = node.Decode(&head) // a malformed head leaves fields empty; checked below
	if head.Kind == "" {
		return fieldErrorf(where+" kind", "missing (expected Workflow, CronWorkflow, WorkflowTemplate, ClusterWorkflowTemplate or a List)")
	}
	if strings.HasSuffix(head.Kind, "List") && mapValue(node, "items") != nil {
		items := mapValue(node, "items")
		for i, item := range items.Content {
			if err := s.addObject(item, fmt.Sprintf("%s items[%d]", where, i)); err != nil {
				return err
			}
		}
		return nil
	}
	o := &StreamObject{Where: where, APIVersion: head.APIVersion, Kind: head.Kind, Name: head.Metadata.Name, node: node}
	if o.Name == "" {
		o.Name = head.Metadata.GenerateName
	}
	s.Objects = append(s.Objects, o)
	obj := NewWorkflowObject(head.Kind)
	if head.Kind == "Pod" && head.APIVersion == "v1" {
		obj = &corev1.Pod{}
	}
	if obj == nil && strings.HasPrefix(head.APIVersion, "argoproj.io/") && !otherArgoKinds[head.Kind] {
		return fieldErrorf(where+" kind", "%q is not an Argo kind (expected Workflow, CronWorkflow, WorkflowTemplate or ClusterWorkflowTemplate)", head.Kind)
	}
	if obj == nil || (head.Kind != "Pod" && !strings.HasPrefix(head.APIVersion, "argoproj.io/")) {
		return nil // another kind: passed through
	}
	var tree any
	if err := node.Decode(&tree); err != nil {
		return fieldErrorf(where, "%v", err)
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		return fieldErrorf(where, "not representable as JSON: %v", err)
	}
	strict, err := kjson.UnmarshalStrict(raw, obj)
	if err != nil {
		return decodeError(where, head.Kind, tree, err)
	}
	for _, e := range strict {
		var fe kjson.FieldError
		if errors.As(e, &fe) {
			o.Unknown = append(o.Unknown, fe.FieldPath())
		}
	}
	o.Object = obj
	return nil
}

// otherArgoKinds are the argoproj.io kinds without pods to shape: passed through.
var otherArgoKinds = map[string]bool{"WorkflowEventBinding": true, "WorkflowTaskSet": true, "WorkflowTaskResult": true,
	"WorkflowArtifactGCTask": true}

// Update writes what changed between o.Object and shaped into o's document: only the fields that
// differ are edited or added, so the rest stays as written.
func (s *Stream) Update(o *StreamObject, shaped runtime.Object) error {
	before, err := toTree(o.Object)
	if err != nil {
		return err
	}
	after, err := toTree(shaped)
	if err != nil {
		return err
	}
	return applyDelta(o.node, before, after)
}

// Encode prints the stream as YAML, documents in their order.
func (s *Stream) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if !s.indentedSeqs {
		enc.CompactSeqIndent()
	}
	for _, d := range s.docs {
		if len(d.Content) == 0 {
			continue
		}
		if d.Content[0].Style&yaml.FlowStyle != 0 {
			blockStyle(d) // written as JSON: printed as block YAML
		}
		safeBlockScalars(d)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}

// indentsSequences reports whether the input mostly indents list items under their key.
func indentsSequences(data []byte) bool {
	lines := strings.Split(string(data), "\n")
	compact, indented := 0, 0
	for i := 0; i+1 < len(lines); i++ {
		key := strings.TrimRight(lines[i], " \t")
		if !strings.HasSuffix(key, ":") || strings.HasPrefix(strings.TrimSpace(key), "#") {
			continue
		}
		next := lines[i+1]
		item := strings.TrimLeft(next, " ")
		if !strings.HasPrefix(item, "- ") && item != "-" {
			continue
		}
		keyIndent := len(key) - len(strings.TrimLeft(key, " "))
		switch itemIndent := len(next) - len(item); {
		case itemIndent == keyIndent:
			compact++
		case itemIndent > keyIndent:
			indented++
		}
	}
	return indented > compact
}

func toTree(obj runtime.Object) (any, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return v, nil
}

// applyDelta edits node (holding before) so that it holds after, touching only what differs.
func applyDelta(node *yaml.Node, before, after any) error {
	if reflect.DeepEqual(before, after) {
		return nil
	}
	bm, bok := before.(map[string]any)
	am, aok := after.(map[string]any)
	if bok && aok && node.Kind == yaml.MappingNode {
		for _, k := range sortedKeys(am) {
			if reflect.DeepEqual(bm[k], am[k]) {
				continue
			}
			if child := mapValue(node, k); child != nil && child.Tag != "!!null" {
				if err := applyDelta(child, bm[k], am[k]); err != nil {
					return err
				}
				continue
			}
			if err := setMapValue(node, k, delta(bm[k], am[k])); err != nil {
				return err
			}
		}
		for k := range bm {
			if _, kept := am[k]; !kept {
				removeMapKey(node, k)
			}
		}
		return nil
	}
	bl, bok := before.([]any)
	al, aok := after.([]any)
	if bok && aok && node.Kind == yaml.SequenceNode && len(node.Content) == len(bl) && len(al) >= len(bl) {
		for i := range bl {
			if err := applyDelta(node.Content[i], bl[i], al[i]); err != nil {
				return err
			}
		}
		for _, v := range al[len(bl):] {
			var n yaml.Node
			if err := n.Encode(v); err != nil {
				return err
			}
			node.Content = append(node.Content, &n)
		}
		return nil
	}
	var n yaml.Node
	if err := n.Encode(after); err != nil {
		return err
	}
	n.HeadComment, n.LineComment, n.FootComment = node.HeadComment, node.LineComment, node.FootComment
	*node = n
	return nil
}

// delta is what after adds to before: for mappings only the keys that differ, else after.
func delta(before, after any) any {
	bm, bok := before.(map[string]any)
	am, aok := after.(map[string]any)
	if !bok || !aok {
		return after
	}
	out := map[string]any{}
	for k, v := range am {
		if !reflect.DeepEqual(bm[k], v) {
			out[k] = delta(bm[k], v)
		}
	}
	return out
}

func mapValue(node *yaml.Node, key string) *yaml.Node {
	if node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return nil
}

func setMapValue(node *yaml.Node, key string, v any) error {
	var val yaml.Node
	if err := val.Encode(v); err != nil {
		return err
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			node.Content[i+1] = &val
			return nil
		}
	}
	node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &val)
	return nil
}

func removeMapKey(node *yaml.Node, key string) {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			node.Content = append(node.Content[:i], node.Content[i+2:]...)
			return
		}
	}
}

// safeBlockScalars double-quotes block scalars that start with a line break or hold a blank line:
// the YAML encoder can add a blank line to such a literal each time it is written, which would change the value.
func safeBlockScalars(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 && (strings.HasPrefix(n.Value, "\n") || strings.Contains(n.Value, "\n\n")) {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		safeBlockScalars(c)
	}
}

// blockStyle turns a JSON document (flow style, quoted strings) into block YAML.
func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "something else"
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func sortStrings(s []string) { sort.Strings(s) }

var templateElemRE = regexp.MustCompile(`(^|\.)templates\[[0-9]+\]$`)

// decodeError explains why Argo's types cannot hold an object. A resource quantity written as a
// parameter ({{inputs.parameters.cpu}}) is named with its template and field, and the way Argo
// users pass parameterised resources: the template's podSpecPatch.
func decodeError(where, kind string, tree any, err error) error {
	if path, tmpl, v, ok := parameterisedQuantity(tree, ""); ok {
		return fieldErrorf(path, "template %q: %q is a parameter where Argo's types need a quantity (Argo refuses it too); "+
			"pass parameterised resources in the template's podSpecPatch, e.g. "+
			`podSpecPatch: '{"containers":[{"name":"main","resources":{"limits":{"cpu":"{{inputs.parameters.cpu}}"}}}]}'`, tmpl, v)
	}
	return fieldErrorf(where, "not a valid %s: %s", kind, strings.TrimPrefix(err.Error(), "json: "))
}

// parameterisedQuantity finds a string with {{ under resources.limits or resources.requests and
// returns its path, the name of the template holding it and the value.
func parameterisedQuantity(v any, path string) (string, string, string, bool) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if at, tmpl, val, ok := parameterisedQuantity(x[k], p); ok {
				if tmpl == "" && templateElemRE.MatchString(path) {
					tmpl, _ = x["name"].(string)
				}
				return at, tmpl, val, true
			}
		}
	case []any:
		for i, e := range x {
			if at, tmpl, val, ok := parameterisedQuantity(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return at, tmpl, val, true
			}
		}
	case string:
		if strings.Contains(x, "{{") && (strings.Contains(path, "resources.limits.") || strings.Contains(path, "resources.requests.")) {
			return path, "", x, true
		}
	}
	return "", "", "", false
}
