package sandbox

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is an OCI mount's option list split the way mount(2) needs
// it: flags, propagation changes (each its own mount call) and the
// filesystem-specific data string.
type mountOptions struct {
	flags       uintptr
	propagation []uintptr
	data        string
}

// parseMountOptions splits OCI mount options as runc does: known flag names
// set or clear flags, propagation names become separate calls, anything else
// is filesystem data ("mode=755", "size=65536k").
func parseMountOptions(options []string) mountOptions {
	flagOpts := map[string]struct {
		clear bool
		flag  uintptr
	}{
		"async":         {true, unix.MS_SYNCHRONOUS},
		"atime":         {true, unix.MS_NOATIME},
		"bind":          {false, unix.MS_BIND},
		"defaults":      {false, 0},
		"dev":           {true, unix.MS_NODEV},
		"diratime":      {true, unix.MS_NODIRATIME},
		"dirsync":       {false, unix.MS_DIRSYNC},
		"exec":          {true, unix.MS_NOEXEC},
		"mand":          {false, unix.MS_MANDLOCK},
		"noatime":       {false, unix.MS_NOATIME},
		"nodev":         {false, unix.MS_NODEV},
		"nodiratime":    {false, unix.MS_NODIRATIME},
		"noexec":        {false, unix.MS_NOEXEC},
		"nomand":        {true, unix.MS_MANDLOCK},
		"norelatime":    {true, unix.MS_RELATIME},
		"nostrictatime": {true, unix.MS_STRICTATIME},
		"nosuid":        {false, unix.MS_NOSUID},
		"rbind":         {false, unix.MS_BIND | unix.MS_REC},
		"relatime":      {false, unix.MS_RELATIME},
		"remount":       {false, unix.MS_REMOUNT},
		"ro":            {false, unix.MS_RDONLY},
		"rw":            {true, unix.MS_RDONLY},
		"strictatime":   {false, unix.MS_STRICTATIME},
		"suid":          {true, unix.MS_NOSUID},
		"sync":          {false, unix.MS_SYNCHRONOUS},
	}
	propOpts := map[string]uintptr{
		"private":     unix.MS_PRIVATE,
		"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
		"shared":      unix.MS_SHARED,
		"rshared":     unix.MS_SHARED | unix.MS_REC,
		"slave":       unix.MS_SLAVE,
		"rslave":      unix.MS_SLAVE | unix.MS_REC,
		"unbindable":  unix.MS_UNBINDABLE,
		"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	}
	var mo mountOptions
	var data []string
	for _, o := range options {
		if f, ok := flagOpts[o]; ok {
			if f.clear {
				mo.flags &^= f.flag
			} else {
				mo.flags |= f.flag
			}
			continue
		}
		if p, ok := propOpts[o]; ok {
			mo.propagation = append(mo.propagation, p)
			continue
		}
		data = append(data, o)
	}
	mo.data = strings.Join(data, ",")
	return mo
}

// statfsToMountFlags converts the flags statfs(2) reports for a mount into
// the MS_ flags that must be kept when remounting it: in a user namespace,
// the flags a mount inherited from a more privileged one are locked, and a
// remount that drops them fails with EPERM.
func statfsToMountFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_RDONLY:      unix.MS_RDONLY,
		unix.ST_NOSUID:      unix.MS_NOSUID,
		unix.ST_NODEV:       unix.MS_NODEV,
		unix.ST_NOEXEC:      unix.MS_NOEXEC,
		unix.ST_NOATIME:     unix.MS_NOATIME,
		unix.ST_NODIRATIME:  unix.MS_NODIRATIME,
		unix.ST_RELATIME:    unix.MS_RELATIME,
		unix.ST_SYNCHRONOUS: unix.MS_SYNCHRONOUS,
		unix.ST_MANDLOCK:    unix.MS_MANDLOCK,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}
