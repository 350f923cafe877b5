package dataset

import (
	"math"
	"strconv"
	"strings"
)

var sizeUnits = []struct {
	suffix string
	factor float64
}{
	// Longest suffixes first so "GiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50}, {"EiB", 1 << 60},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15}, {"EB", 1e18},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50},
	{"B", 1},
}

// ParseSize reads a size as Fluid writes it in Dataset status ("10.00GiB", "0.00B", "512MiB").
// ok is false for anything else, including Fluid's "[Calculating]" placeholder and negative sizes.
func ParseSize(s string) (bytes float64, ok bool) {
	s = strings.TrimSpace(s)
	factor := 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, false
	}
	if b := v * factor; !math.IsInf(b, 0) {
		return b, true
	}
	return 0, false
}

// FormatSize writes bytes the way Fluid does ("12.00GiB").
func FormatSize(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return strconv.FormatFloat(b, 'f', 2, 64) + units[i]
}
