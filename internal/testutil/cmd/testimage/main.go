// Command testimage writes the images of package testutil into an OCI image
// layout, for scripts (.ci/run, bench/) that hand them to skopeo, buildah or
// BuildKit, so that peers build from the same bases as the tests:
//
//	testimage -o DIR -name NAME busybox
//	testimage -o DIR -name NAME debian VARIANT
//	testimage -o DIR -name NAME rootfs FILE.tar [CMD...]
//
// busybox uses the host's /bin/busybox; debian a tarball made by .ci/fixtures
// (see testutil.DebianVariants); rootfs any uncompressed root filesystem tar.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/testutil"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "testimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("testimage", flag.ContinueOnError)
	out := fs.String("o", "", "OCI image layout directory to add the image to (created if needed)")
	name := fs.String("name", "", "ref name of the image in the layout (org.opencontainers.image.ref.name)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *name == "" || fs.NArg() < 1 {
		return errors.New("usage: testimage -o DIR -name NAME busybox | debian VARIANT | rootfs FILE.tar [CMD...]")
	}
	img, err := image(fs.Args())
	if err != nil {
		return err
	}
	if err := testutil.AppendOCILayout(img, *out, *name); err != nil {
		return fmt.Errorf("writing %s to %s: %w", *name, *out, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", *name, d)
	return nil
}

func image(args []string) (v1.Image, error) {
	cfg := v1.Config{Env: []string{"PATH=" + testutil.DefaultPath}}
	switch args[0] {
	case "busybox":
		bin, err := os.ReadFile(testutil.HostBusybox)
		if err != nil {
			return nil, fmt.Errorf("reading busybox (apt-get install busybox-static): %w", err)
		}
		return testutil.NewBusyboxImage(bin)
	case "debian":
		if len(args) != 2 {
			return nil, errors.New("debian takes one VARIANT")
		}
		if !strings.HasSuffix(args[1], "-extract") {
			cfg.Cmd = []string{"bash"}
		}
		path := filepath.Join(testutil.TestCacheDir(), "debian-"+args[1]+".tar")
		return testutil.ImageFromRootfsTar(path, cfg)
	case "rootfs":
		if len(args) < 2 {
			return nil, errors.New("rootfs takes FILE.tar [CMD...]")
		}
		if len(args) > 2 {
			cfg.Cmd = args[2:]
		}
		return testutil.ImageFromRootfsTar(args[1], cfg)
	}
	return nil, fmt.Errorf("unknown image kind %q (busybox, debian, rootfs)", args[0])
}
