package frontend_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whittle-build/whittle/internal/frontend"
)

// The linter findings are the ones BuildKit v0.34.2 reports for the same
// Dockerfiles, with their lines.
func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		df   string
		opts frontend.Options
		want []string
	}{
		{
			name: "none",
			df:   "FROM busybox\nRUN [\"true\"]\n",
		},
		{
			name: "legacy ENV and shell-form CMD",
			df:   "FROM busybox\nENV A=1\nENV C $A\nRUN echo\nCMD echo hi\n",
			want: []string{
				`Dockerfile:3: LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format`,
				"Dockerfile:5: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
			},
		},
		{
			name: "unconsumed build args",
			df:   "ARG G\nFROM busybox\nARG USED\n",
			opts: frontend.Options{BuildArgs: map[string]string{"USED": "1", "G": "2", "ZZ": "3", "AA": "4", "http_proxy": "p", "TARGETARCH": "arm64", "BUILDKIT_INLINE_CACHE": "1"}},
			want: []string{"[Warning] One or more build-args [AA ZZ] were not consumed"},
		},
		{
			name: "maintainer and EXPOSE casing",
			df:   "FROM busybox\nEXPOSE 80/TCP\nMAINTAINER me\n",
			want: []string{
				// MAINTAINER is reported while parsing, EXPOSE while lowering.
				"Dockerfile:3: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label",
				"Dockerfile:2: ExposeProtoCasing: Defined protocol '80/TCP' in EXPOSE instruction should be lowercase",
			},
		},
		{
			name: "several CMD and HEALTHCHECK",
			df:   "FROM busybox\nCMD [\"a\"]\nCMD [\"b\"]\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK NONE\n",
			want: []string{
				"Dockerfile:2: MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because only the last one will be used",
				"Dockerfile:4: MultipleInstructionsDisallowed: Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used",
			},
		},
		{
			name: "base image of another platform",
			df:   "FROM armimg\nRUN [\"x\"]\n",
			want: []string{`Dockerfile:1: InvalidBaseImagePlatform: Base image armimg was pulled with platform "linux/arm64", expected "linux/amd64" for current build`},
		},
		{
			name: "casing and stage names",
			df:   "from busybox AS Build\nrun echo\nCOPY a b\nFROM busybox AS build\n",
			want: []string{
				"Dockerfile:1: StageNameCasing: Stage name 'Build' should be lowercase",
				"Dockerfile:1: FromAsCasing: 'AS' and 'from' keywords' casing do not match",
				`Dockerfile:4: DuplicateStageName: Duplicate stage name "build", stage names should be unique`,
				"Dockerfile:1: ConsistentInstructionCasing: Command 'from' should match the case of the command majority (uppercase)",
				"Dockerfile:2: ConsistentInstructionCasing: Command 'run' should match the case of the command majority (uppercase)",
			},
		},
		{
			name: "undefined variables",
			df:   "FROM busybox\nENV A=$UNDEF\nCOPY $SRC /x\nWORKDIR $HOME\n",
			want: []string{
				"Dockerfile:2: UndefinedVar: Usage of undefined variable '$UNDEF'",
				"Dockerfile:3: UndefinedVar: Usage of undefined variable '$SRC'",
				"Dockerfile:4: UndefinedVar: Usage of undefined variable '$HOME'",
				`Dockerfile:4: WorkdirRelativePath: Relative workdir "" can have unexpected results if the base image changes`,
			},
		},
		{
			name: "undefined ARG in FROM",
			df:   "ARG TAG\nFROM busybox$TAG$TGA\n",
			want: []string{"Dockerfile:2: UndefinedArgInFrom: FROM argument 'TGA' is not declared (did you mean TAG?)"},
		},
		{
			name: "relative WORKDIR",
			df:   "FROM busybox\nWORKDIR app\nWORKDIR other\n",
			want: []string{`Dockerfile:2: WorkdirRelativePath: Relative workdir "app" can have unexpected results if the base image changes`},
		},
		{
			name: "secrets in ARG and ENV",
			df:   "FROM busybox\nARG API_TOKEN=x\nENV DB_PASSWORD=y PUBLIC_KEY=z\n",
			want: []string{
				`Dockerfile:2: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "API_TOKEN")`,
				`Dockerfile:3: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")`,
			},
		},
		{
			name: "constant FROM platform",
			df:   "FROM --platform=linux/amd64 scratch AS a\nFROM --platform=linux/amd64 scratch AS amd64\nFROM --platform=$TARGETPLATFORM scratch\n",
			want: []string{
				`Dockerfile:1: FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "linux/amd64"`,
				"Dockerfile:3: RedundantTargetPlatform: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
			},
		},
		{
			name: "directives",
			df:   "# syntax=docker/dockerfile:1\n# check=skip=JSONArgsRecommended\nFROM busybox\nCMD echo hi\n",
			want: []string{
				`Dockerfile:1: syntax directive "docker/dockerfile:1" ignored: whittle uses its built-in Dockerfile frontend (BuildKit v0.34 grammar)`,
				`Dockerfile:2: check directive "skip=JSONArgsRecommended" applied to the build checks below`,
			},
		},
		{
			name: "empty continuation line",
			df:   "FROM busybox\nRUN echo \\\n\n  hi\n",
			want: []string{"Dockerfile:4: NoEmptyContinuation: Empty continuation line"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lower(t, tt.df, tt.opts)
			if diff := cmp.Diff(tt.want, p.Warnings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
