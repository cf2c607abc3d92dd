package distroless

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// platforms maps Debian architectures to OCI platforms.
var platforms = map[string]v1.Platform{
	"amd64":    {OS: "linux", Architecture: "amd64"},
	"arm64":    {OS: "linux", Architecture: "arm64", Variant: "v8"},
	"armhf":    {OS: "linux", Architecture: "arm", Variant: "v7"},
	"armel":    {OS: "linux", Architecture: "arm", Variant: "v5"},
	"i386":     {OS: "linux", Architecture: "386"},
	"ppc64el":  {OS: "linux", Architecture: "ppc64le"},
	"s390x":    {OS: "linux", Architecture: "s390x"},
	"riscv64":  {OS: "linux", Architecture: "riscv64"},
	"mips64el": {OS: "linux", Architecture: "mips64le"},
}

// platformOf returns the OCI platform of a Debian architecture.
func platformOf(arch string) (v1.Platform, error) {
	p, ok := platforms[arch]
	if !ok {
		return v1.Platform{}, fmt.Errorf("unknown architecture %q (want a Debian name such as amd64 or arm64)", arch)
	}
	return p, nil
}

// HostArch returns the Debian name of the host's architecture.
func HostArch() string {
	for deb, p := range platforms {
		if p.Architecture == runtime.GOARCH {
			if runtime.GOARCH == "arm" && deb != "armhf" {
				continue
			}
			return deb
		}
	}
	return runtime.GOARCH
}

// config makes the image config: the recipe's environment, entrypoint,
// command, user, working directory and labels, the platform, the creation
// time, and one history entry per layer.
func (b *builder) config(layers []*packageLayer, created time.Time) (*v1.ConfigFile, error) {
	p, err := platformOf(b.arch)
	if err != nil {
		return nil, err
	}
	r := b.recipe
	env := map[string]string{}
	for k, v := range r.Env {
		env[k] = v
	}
	entrypoint, cmd := r.Entrypoint, r.Cmd
	if b.o.Debug {
		env["PATH"] = strings.TrimSuffix(envOr(env, "PATH", defaultPath), ":") + ":/" + busyboxDir
		entrypoint, cmd = []string{"/" + busyboxDir + "/sh"}, nil
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		Variant:      p.Variant,
		OS:           p.OS,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			Entrypoint: entrypoint,
			Cmd:        cmd,
			User:       r.User,
			WorkingDir: r.Workdir,
			Labels:     r.Labels,
		},
	}
	for _, k := range sortedKeys(env) {
		cfg.Config.Env = append(cfg.Config.Env, k+"="+env[k])
	}
	for _, l := range layers {
		by := fmt.Sprintf("whittle base %s: generated files", r.Name)
		switch {
		case l.history != "":
			by = l.history
		case l.Name != "":
			by = fmt.Sprintf("whittle base %s: %s %s (%s)", r.Name, l.Name, l.Version, l.Arch)
		}
		cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: by})
	}
	return cfg, nil
}

func envOr(env map[string]string, k, def string) string {
	if v, ok := env[k]; ok {
		return v
	}
	return def
}
