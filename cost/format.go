package cost

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report for people: one row per workflow template, a row per workflow,
// and the total.
func WriteTable(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKFLOW\tTEMPLATE\tSPECS\tATTEMPTS\tRETRIES\tFAILED\tSPOT\tON-DEMAND\tSECONDS\tLIST CNY\tBILLED CNY\tWASTED CNY")
	row := func(wf, tmpl string, l Line) {
		specs := strings.Join(l.Specs, ",")
		if specs == "" {
			specs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.4f\t%.4f\t%.4f\n", wf, tmpl, specs, l.Attempts, l.Retries,
			l.Failed, l.SpotAttempts, l.OnDemandAttempts, l.Seconds, l.ListCNY, l.BilledCNY, l.WastedCNY)
	}
	for _, l := range r.Templates {
		row(l.Workflow, l.Template, l)
	}
	for _, l := range r.Workflows {
		row(l.Workflow, "(all)", l)
	}
	row("(total)", "", r.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "spot priced at %.2f of list; wasted = failed attempts (retried or not)", r.SpotRatio)
	if err == nil && r.Total.Unpriced > 0 {
		_, err = fmt.Fprintf(w, "; %d attempt(s) on specs without a known price left out", r.Total.Unpriced)
	}
	if err == nil {
		_, err = fmt.Fprintln(w)
	}
	return err
}
