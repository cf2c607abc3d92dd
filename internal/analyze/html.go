package analyze

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed report.html
var reportHTML string

// htmlLayer is one bar of the layer chart.
type htmlLayer struct {
	Layer
	Width      float64 // bar width, percent of the largest layer
	WastedPart float64 // wasted share of the bar, percent
	Command    string
}

// htmlData is what report.html renders.
type htmlData struct {
	R      *Report
	Layers []htmlLayer
	Rules  []Rule
}

// WriteHTML writes r as one self-contained HTML page (inline CSS and
// JavaScript, nothing fetched): a bar chart of layer sizes, a treemap of
// where the bytes are, the attack-surface table and the package list. The
// chart elements carry their numbers as data attributes (data-size,
// data-bytes...).
func WriteHTML(w io.Writer, r *Report) error {
	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"human":  HumanSize,
		"pct":    func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
		"base":   describeBase,
		"plural": plural,
	}).Parse(reportHTML)
	if err != nil {
		return fmt.Errorf("parsing HTML template: %w", err)
	}
	var largest int64
	for _, l := range r.Layers {
		largest = max(largest, l.Size)
	}
	d := htmlData{R: r, Rules: Rules()}
	for _, l := range r.Layers {
		hl := htmlLayer{Layer: l, Command: shortCommand(l.CreatedBy, 90)}
		if largest > 0 {
			hl.Width = 100 * float64(l.Size) / float64(largest)
		}
		if l.Size > 0 {
			hl.WastedPart = min(100, 100*float64(l.WastedBytes)/float64(l.Size))
		}
		d.Layers = append(d.Layers, hl)
	}
	if err := tmpl.Execute(w, d); err != nil {
		return fmt.Errorf("writing HTML report: %w", err)
	}
	return nil
}
