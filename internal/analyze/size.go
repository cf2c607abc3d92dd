package analyze

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// HumanSize formats n bytes with binary units: "0 B", "512 B", "1.5 KiB",
// "84.2 MiB".
func HumanSize(n int64) string {
	neg := ""
	if n < 0 {
		neg, n = "-", -n
	}
	if n < 1024 {
		return fmt.Sprintf("%s%d B", neg, n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%s%.1f %s", neg, v, units[i])
}

// ParseSize parses a size for the gates: a byte count with an optional
// unit, decimal (kB, MB, GB, TB: powers of 1000) or binary (KiB, MiB, GiB,
// TiB; K, M, G, T: powers of 1024), case-insensitive: "300MB", "1.5GiB",
// "512k", "1048576".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("parsing size %q: want a number of bytes with an optional unit such as 300MB or 1.5GiB", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("parsing size %q: unknown unit %q (use B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	if v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("parsing size %q: too large", s)
	}
	return int64(math.Round(v * mult)), nil
}
