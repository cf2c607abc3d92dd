package analyze

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes r as indented JSON in the schema documented in
// SCHEMA.md.
func WriteJSON(w io.Writer, r *Report) error {
	return writeJSON(w, r)
}

// WriteDiffJSON writes d as indented JSON in the schema documented in
// SCHEMA.md.
func WriteDiffJSON(w io.Writer, d *DiffReport) error {
	return writeJSON(w, d)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}
