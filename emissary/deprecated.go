package emissary

import "strings"

// replacedFields maps fields of older Argo versions, which Argo v4.0.7's types no longer have, to
// the fields that replace them (Argo v3.6 upgrade notes: schedules, mutexes, semaphores).
var replacedFields = map[string]string{
	"schedule":                  "schedules",
	"synchronization.semaphore": "synchronization.semaphores",
	"synchronization.mutex":     "synchronization.mutexes",
}

// UnknownFieldFindings turns the unknown fields of a stream object into warnings: render keeps
// them as written; fields of older Argo versions are named with the field that replaces them.
func UnknownFieldFindings(o *StreamObject) []Finding {
	var out []Finding
	for _, path := range o.Unknown {
		f := Finding{Code: CodeUnknownField, Severity: SeverityWarning, Path: path,
			Message: "field unknown to Argo v4.0.7: kept as written; controllers that do not know it ignore it"}
		for old, repl := range replacedFields {
			if path == "spec."+old || strings.HasSuffix(path, "."+old) {
				f.Message = "deprecated field: kept as written, but Argo v3.6 and later read " + repl + " instead"
				f.Hint = "use " + repl
			}
		}
		out = append(out, f)
	}
	return out
}
