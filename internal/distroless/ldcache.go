package distroless

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// LDCache is where the dynamic loader reads its cache.
const LDCache = "/etc/ld.so.cache"

// ldArch is what ld.so.cache needs to know of an architecture: its
// multiarch triplet (whose lib directories the loader searches without a
// cache), the entry flags ldconfig gives its libraries, and its byte order.
type ldArch struct {
	triplet string
	flags   int32
	order   binary.ByteOrder
}

// ldArches are the architectures ld.so.cache can be made for. The flags
// are glibc's FLAG_ELF_LIBC6 (3) with the architecture's FLAG_*_LIB64 or ABI
// flag (elf/cache.c, sysdeps/generic/ldconfig.h).
var ldArches = map[string]ldArch{
	"amd64":   {"x86_64-linux-gnu", 0x0303, binary.LittleEndian},
	"arm64":   {"aarch64-linux-gnu", 0x0a03, binary.LittleEndian},
	"armhf":   {"arm-linux-gnueabihf", 0x0903, binary.LittleEndian},
	"i386":    {"i386-linux-gnu", 0x0003, binary.LittleEndian},
	"ppc64el": {"powerpc64le-linux-gnu", 0x0503, binary.LittleEndian},
	"s390x":   {"s390x-linux-gnu", 0x0603, binary.BigEndian},
	"riscv64": {"riscv64-linux-gnu", 0x1003, binary.LittleEndian},
}

// libraryName matches the names ldconfig puts in the cache.
var libraryName = regexp.MustCompile(`^(lib|ld-).*\.so(\..*)?$`)

// ldSearchDirs returns the directories ldconfig would scan, in its order:
// those named by /etc/ld.so.conf (Debian's default, "include
// /etc/ld.so.conf.d/*.conf", when the image has none) and its includes,
// then the loader's own directories. conf holds the configuration files by
// clean relative path.
func ldSearchDirs(conf map[string][]byte, triplet string) (dirs []string, extra []string) {
	seen := map[string]bool{}
	trusted := []string{"lib/" + triplet, "usr/lib/" + triplet, "lib", "usr/lib"}
	isTrusted := map[string]bool{}
	for _, d := range trusted {
		isTrusted[d] = true
	}
	var read func(file string, depth int)
	read = func(file string, depth int) {
		data, ok := conf[file]
		if !ok && file == "etc/ld.so.conf" {
			data = []byte("include /etc/ld.so.conf.d/*.conf\n")
		}
		if depth > 8 {
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			line = strings.TrimSpace(line)
			switch {
			case line == "":
			case strings.HasPrefix(line, "include "):
				pattern := strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(line, "include ")), "/")
				var matches []string
				for f := range conf {
					if ok, _ := path.Match(pattern, f); ok {
						matches = append(matches, f)
					}
				}
				sort.Strings(matches)
				for _, m := range matches {
					read(m, depth+1)
				}
			case strings.HasPrefix(line, "hwcap "):
			default:
				for _, d := range strings.FieldsFunc(line, func(r rune) bool { return r == ':' || r == ' ' || r == '\t' || r == ',' }) {
					d = strings.TrimPrefix(path.Clean("/"+d), "/")
					if d != "" && !seen[d] {
						seen[d] = true
						dirs = append(dirs, d)
						if !isTrusted[d] {
							extra = append(extra, d)
						}
					}
				}
			}
		}
	}
	read("etc/ld.so.conf", 0)
	for _, d := range trusted {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs, extra
}

// ldCacheFor returns the ld.so.cache the image needs, or nil when the
// loader finds every library without one: when no directory of the
// ld.so.conf configuration outside the loader's own holds a library.
// libsIn lists the file names (regular files and symlinks) in a directory
// of the image, sorted.
func ldCacheFor(conf map[string][]byte, arch string, libsIn func(dir string) []string) ([]byte, error) {
	la, ok := ldArches[arch]
	if !ok {
		return nil, nil
	}
	dirs, extra := ldSearchDirs(conf, la.triplet)
	needed := false
	for _, d := range extra {
		if len(libsIn(d)) > 0 {
			needed = true
		}
	}
	if !needed {
		return nil, nil
	}
	var entries [][2]string // name, path
	have := map[string]bool{}
	for _, d := range dirs {
		for _, name := range libsIn(d) {
			if !libraryName.MatchString(name) || have[name] {
				continue
			}
			have[name] = true
			entries = append(entries, [2]string{name, "/" + d + "/" + name})
		}
	}
	// The loader binary-searches entries in descending libcmp order.
	sort.SliceStable(entries, func(i, j int) bool { return libcmp(entries[i][0], entries[j][0]) > 0 })
	return encodeLDCache(la, entries)
}

// encodeLDCache writes glibc's "glibc-ld.so.cache1.1" format (the only one
// glibc writes since 2.32): a 48-byte header, 24-byte entries (flags, key
// and value offsets from the start of the file, OS version, hwcap), then
// the strings.
func encodeLDCache(la ldArch, entries [][2]string) ([]byte, error) {
	const headerSize, entrySize = 48, 24
	var strs bytes.Buffer
	offsets := map[string]uint32{}
	base := uint32(headerSize + entrySize*len(entries))
	str := func(s string) uint32 {
		if o, ok := offsets[s]; ok {
			return o
		}
		o := base + uint32(strs.Len())
		strs.WriteString(s)
		strs.WriteByte(0)
		offsets[s] = o
		return o
	}
	type rec struct{ key, value uint32 }
	recs := make([]rec, len(entries))
	for i, e := range entries {
		recs[i] = rec{str(e[0]), str(e[1])}
	}
	var b bytes.Buffer
	b.WriteString("glibc-ld.so.cache")
	b.WriteString("1.1")
	w := func(v any) { binary.Write(&b, la.order, v) }
	w(uint32(len(entries)))
	w(uint32(strs.Len()))
	endian := uint8(2) // cache_file_new_flags_endian_little
	if la.order == binary.BigEndian {
		endian = 3
	}
	b.Write([]byte{endian, 0, 0, 0})
	w(uint32(0))   // no extensions
	w([3]uint32{}) // unused
	for _, r := range recs {
		w(la.flags)
		w(r.key)
		w(r.value)
		w(uint32(0)) // osversion
		w(uint64(0)) // hwcap
	}
	if b.Len() != int(base) {
		return nil, fmt.Errorf("ld.so.cache: header of %d bytes, want %d", b.Len(), base)
	}
	b.Write(strs.Bytes())
	return b.Bytes(), nil
}

// libcmp is glibc's _dl_cache_libcmp: strings compared byte by byte,
// except that runs of digits compare as numbers and sort after other
// bytes.
func libcmp(a, b string) int {
	i, j := 0, 0
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i < len(a) {
		switch {
		case isDigit(a[i]):
			if j >= len(b) || !isDigit(b[j]) {
				return 1
			}
			v1, v2 := 0, 0
			for i < len(a) && isDigit(a[i]) {
				v1 = v1*10 + int(a[i]-'0')
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				v2 = v2*10 + int(b[j]-'0')
				j++
			}
			if v1 != v2 {
				return v1 - v2
			}
		case j < len(b) && isDigit(b[j]):
			return -1
		case j >= len(b):
			return int(a[i])
		case a[i] != b[j]:
			return int(a[i]) - int(b[j])
		default:
			i++
			j++
		}
	}
	if j < len(b) {
		return -int(b[j])
	}
	return 0
}
