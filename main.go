// Command catfish puts many OpenAI-compatible upstream channels behind one
// endpoint, with failover and circuit breaking. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // TZ works in a scratch image too

	"catfish/engine"
)

// version is stamped in at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "version") {
		fmt.Println("catfish", version)
		return 0
	}
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		return healthcheck()
	}
	cfg, err := engine.Load(os.LookupEnv, ".env")
	if err != nil {
		fmt.Fprintf(os.Stderr, "catfish: bad configuration:\n%v\n", err)
		return 2
	}
	cfg.Version = version
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
