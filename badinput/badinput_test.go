package badinput_test

import (
	"errors"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
)

func TestNewNilForNoProblems(t *testing.T) {
	if err := badinput.New("configuration", nil); err != nil {
		t.Fatalf("New(no problems) = %v, want a nil error", err)
	}
	if err := badinput.New("", field.ErrorList{}); err != nil {
		t.Fatalf("New(empty list) = %v, want a nil error", err)
	}
}

func TestErrorText(t *testing.T) {
	p := field.NewPath("profiles", "std")
	cases := []struct {
		err            *badinput.Error
		text, fld, msg string
	}{
		{badinput.Errorf(`metadata.annotations["argo-eci.io/specs"]`, "expected %s", "2-4Gi"),
			`metadata.annotations["argo-eci.io/specs"]: expected 2-4Gi`, `metadata.annotations["argo-eci.io/specs"]`, "expected 2-4Gi"},
		{&badinput.Error{Input: "configuration", Errs: field.ErrorList{field.Required(field.NewPath("bucket"), "")}},
			"configuration: bucket: Required value", "bucket", "Required value"},
		{&badinput.Error{Errs: field.ErrorList{
			field.Invalid(p.Child("fallbackSpecs"), 9, "expected 0..3"),
			field.NotSupported(p.Child("sizing"), "x", []string{"declared", "learned"}),
			badinput.Invalid("", "not valid YAML"),
		}},
			`profiles.std.fallbackSpecs: Invalid value: 9: expected 0..3; profiles.std.sizing: Unsupported value: "x": supported values: "declared", "learned"; not valid YAML`,
			"profiles.std.fallbackSpecs",
			`Invalid value: 9: expected 0..3; profiles.std.sizing: Unsupported value: "x": supported values: "declared", "learned"; not valid YAML`},
		{&badinput.Error{}, "invalid input", "", "invalid input"},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.text {
			t.Errorf("Error() = %q, want %q", got, tc.text)
		}
		if got := tc.err.Field(); got != tc.fld {
			t.Errorf("Field() = %q, want %q", got, tc.fld)
		}
		if got := tc.err.Message(); got != tc.msg {
			t.Errorf("Message() = %q, want %q", got, tc.msg)
		}
	}
}

func TestAsThroughWrapping(t *testing.T) {
	inner := badinput.Errorf("kind", "expected Workflow")
	err := fmt.Errorf("loading profiles from cm: %w", fmt.Errorf("decode: %w", inner))
	got, ok := badinput.As(err)
	if !ok || got != inner {
		t.Fatalf("As(wrapped) = %v, %v; want the inner *Error", got, ok)
	}
	if _, ok := badinput.As(errors.New("kind: expected Workflow")); ok {
		t.Error("As(a plain error with the same text) = true, want false")
	}
	if _, ok := badinput.As(nil); ok {
		t.Error("As(nil) = true")
	}
}

// A caller classifies bad input with errors.As and reads the field from the problems, never from
// the text.
func Example() {
	err := badinput.New("configuration", field.ErrorList{
		field.Invalid(field.NewPath("partSize"), "1Ki", "want between 100Ki and 5Gi"),
	})
	var bad *badinput.Error
	if errors.As(fmt.Errorf("save: %w", err), &bad) {
		fmt.Println(bad.Field())
		fmt.Println(bad)
	}
	// Output:
	// partSize
	// configuration: partSize: Invalid value: "1Ki": want between 100Ki and 5Gi
}
