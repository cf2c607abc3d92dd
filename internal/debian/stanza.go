package debian

import "bytes"

// stanza is the raw bytes of one deb822 paragraph and the line it starts on.
type stanza struct {
	data []byte
	line int
}

// splitStanzas cuts deb822 data into paragraphs at blank lines, keeping each
// paragraph's bytes exactly (they are sub-slices of data) so they can be
// written out again unchanged. Blank lines are "\n" or "\r\n", as in
// pault.ag/go/debian/control; paragraphs made only of '#' comment lines are
// dropped, as that parser drops them.
func splitStanzas(data []byte) []stanza {
	var out []stanza
	line := 1
	start, startLine := -1, 0
	onlyComments := true
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		text := data[pos:next]
		blank := len(text) == 1 && text[0] == '\n' || len(text) == 2 && text[0] == '\r' && text[1] == '\n'
		switch {
		case blank:
			if start >= 0 && !onlyComments {
				out = append(out, stanza{data: data[start:pos], line: startLine})
			}
			start, onlyComments = -1, true
		default:
			if start < 0 {
				start, startLine = pos, line
			}
			if text[0] != '#' {
				onlyComments = false
			}
		}
		pos = next
		line++
	}
	if start >= 0 && !onlyComments {
		out = append(out, stanza{data: data[start:], line: startLine})
	}
	return out
}
