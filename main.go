// Command catfish puts many OpenAI-compatible upstream channels behind one
// endpoint, with failover and circuit breaking. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	_ "time/tzdata" // TZ works in a scratch image too

	"catfish/engine"
)

// version is stamped in at build time: -ldflags "-X main.version=v1.2.3".
// Unstamped, the build's own information names it (see buildVersion).
var version = ""

const usage = `Usage: catfish [command]

Catfish puts many OpenAI-compatible upstream LLM API channels behind one
endpoint, with failover and circuit breakers. See README.md.

Commands:
  (none)        run the server (the admin page, /admin and /v1)
  version       print "catfish <version>" (also -v, --version)
  healthcheck   exit 0 if the server configured here answers GET /healthz
                within 3 s, else 1 (the container's health check)
  help          print this text (also -h, --help)

`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 1 {
		return badUsage("unexpected argument %q", args[1])
	}
	if len(args) == 1 {
		switch args[0] {
		case "help", "-h", "--help", "-help":
			printUsage(os.Stdout)
			return 0
		case "version", "-v", "--version", "-version":
			fmt.Println("catfish", buildVersion())
			return 0
		case "healthcheck":
			return healthcheck()
		}
		return badUsage("unknown command or flag %q", args[0])
	}
	cfg, err := engine.Load(os.LookupEnv, ".env")
	if err != nil {
		fmt.Fprintf(os.Stderr, "catfish: bad configuration:\n%v\n", err)
		return 2
	}
	cfg.Version = buildVersion()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := engine.New(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "catfish:", err)
		return 1
	}
	if err := e.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "catfish:", err)
		return 1
	}
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage, engine.SettingsHelp())
}

// badUsage reports a command line catfish does not understand, with the
// usage, and gives the exit code for it.
func badUsage(format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "catfish: "+format+"\n\n", a...)
	printUsage(os.Stderr)
	return 2
}

// buildVersion is the stamped version, else what the Go toolchain recorded:
// the module version (a tagged `go install`), else the commit, with
// "-dirty" for uncommitted changes, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionFrom(info)
}

func versionFrom(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return rev[:min(len(rev), 12)] + dirty
}

// healthcheck is the container's HEALTHCHECK (no shell or curl there):
// exit 0 when GET /healthz on the configured port answers 200 within 3 s,
// 1 otherwise.
func healthcheck() int {
	cfg, err := engine.Load(os.LookupEnv, ".env")
	if err == nil {
		err = engine.Healthcheck(context.Background(), cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "catfish healthcheck:", err)
		return 1
	}
	return 0
}
