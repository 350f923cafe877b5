package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestSharedLogFlags: --log-level and --log-format are root flags every subcommand shares; bad
// values are usage errors (exit 2) naming the flag.
func TestSharedLogFlags(t *testing.T) {
	for _, tc := range []struct {
		level, format string
		wantErr       string
		wantOut       string
	}{
		{"info", "json", "", `"msg":"hello"`},
		{"debug", "text", "", "msg=hello"},
		{"loud", "json", "--log-level", ""},
		{"info", "xml", "--log-format", ""},
	} {
		var buf bytes.Buffer
		log, err := (&logFlags{level: tc.level, format: tc.format}).newLogger(&buf)
		if tc.wantErr != "" {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s/%s: error %v, want exit 2 naming %s", tc.level, tc.format, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		log.Debug("hello")
		if tc.level == "debug" && !strings.Contains(buf.String(), tc.wantOut) {
			t.Errorf("debug/%s: output %q lacks %s", tc.format, buf.String(), tc.wantOut)
		}
		log.Info("hello")
		if !strings.Contains(buf.String(), tc.wantOut) {
			t.Errorf("%s/%s: output %q lacks %s", tc.level, tc.format, buf.String(), tc.wantOut)
		}
	}
	root := newRootCmd()
	for _, sub := range root.Commands() {
		for _, name := range []string{"log-level", "log-format"} {
			if sub.LocalNonPersistentFlags().Lookup(name) != nil {
				t.Errorf("%s defines its own --%s; it is a root flag", sub.Name(), name)
			}
			if sub.InheritedFlags().Lookup(name) == nil && sub.Name() != "help" && sub.Name() != "completion" {
				t.Errorf("%s does not inherit --%s", sub.Name(), name)
			}
		}
	}
}
