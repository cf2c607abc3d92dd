package step

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// chmodSpec is a parsed --chmod: octal ("755") or symbolic ("u+rwx,g=rx,o-w",
// "+x"), as BuildKit accepts.
type chmodSpec struct {
	octal   *fs.FileMode
	clauses []chmodClause
}

type chmodClause struct {
	who  uint32 // bits the clause touches (a mask of ugo)
	op   byte   // '+', '-', '='
	perm uint32 // r/w/x/s/t bits before masking
	// capX is X: execute only for directories or files already executable by someone.
	capX bool
}

func parseChmod(s string) (*chmodSpec, error) {
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		if n > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: mode out of range", s)
		}
		m := fs.FileMode(n & 0o777)
		if n&0o4000 != 0 {
			m |= fs.ModeSetuid
		}
		if n&0o2000 != 0 {
			m |= fs.ModeSetgid
		}
		if n&0o1000 != 0 {
			m |= fs.ModeSticky
		}
		return &chmodSpec{octal: &m}, nil
	}
	spec := &chmodSpec{}
	for _, clause := range strings.Split(s, ",") {
		i := strings.IndexAny(clause, "+-=")
		if i < 0 {
			return nil, fmt.Errorf("--chmod=%s: invalid mode %q: use octal (0755) or symbolic (u+x,go-w)", s, clause)
		}
		c := chmodClause{op: clause[i]}
		for _, w := range clause[:i] {
			switch w {
			case 'u':
				c.who |= 0o4700
			case 'g':
				c.who |= 0o2070
			case 'o':
				c.who |= 0o1007
			case 'a':
				c.who |= 0o7777
			default:
				return nil, fmt.Errorf("--chmod=%s: invalid who %q", s, w)
			}
		}
		if c.who == 0 {
			c.who = 0o7777
		}
		for _, p := range clause[i+1:] {
			switch p {
			case 'r':
				c.perm |= 0o444
			case 'w':
				c.perm |= 0o222
			case 'x':
				c.perm |= 0o111
			case 'X':
				c.capX = true
			case 's':
				c.perm |= 0o6000
			case 't':
				c.perm |= 0o1000
			default:
				return nil, fmt.Errorf("--chmod=%s: invalid permission %q", s, p)
			}
		}
		spec.clauses = append(spec.clauses, c)
	}
	return spec, nil
}

// apply returns the mode a file with mode m gets.
func (c *chmodSpec) apply(m fs.FileMode, isDir bool) fs.FileMode {
	if c.octal != nil {
		return *c.octal
	}
	bits := toUnix(m)
	for _, cl := range c.clauses {
		perm := cl.perm
		if cl.capX && (isDir || bits&0o111 != 0) {
			perm |= 0o111
		}
		perm &= cl.who
		switch cl.op {
		case '+':
			bits |= perm
		case '-':
			bits &^= perm
		case '=':
			bits = bits&^(cl.who&0o7777) | perm
		}
	}
	return fromUnix(bits)
}

func toUnix(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

func fromUnix(b uint32) fs.FileMode {
	m := fs.FileMode(b & 0o777)
	if b&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if b&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if b&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
