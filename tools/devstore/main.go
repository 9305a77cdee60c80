// Command devstore runs FerretDB v1 (MongoDB wire protocol) over PostgreSQL
// for development and tests. It embeds FerretDB's package instead of using
// the ferretdb command, whose non-release builds refuse to start.
//
//	devstore -listen 127.0.0.1:0 -postgresql-url URL [-uri-file F] [-log-level L]
//
// The listener is bound before the URI is written (a port of 0 picks a free
// one), so once -uri-file exists the port accepts connections. SIGTERM or
// SIGINT closes the listener and every connection, then exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address for the MongoDB protocol (port 0: a free one)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL, e.g. postgres://postgres@/ferretdb?host=/socket/dir")
	uriFile := flag.String("uri-file", "", "write mongodb://HOST:PORT/ here once the port is bound")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var lvl slog.Level
	if *pgURL == "" || lvl.UnmarshalText([]byte(*level)) != nil || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "devstore: %v\n", err)
		os.Exit(1)
	}

	uri := f.MongoDBURI()
	if *uriFile != "" {
		tmp := filepath.Join(filepath.Dir(*uriFile), "."+filepath.Base(*uriFile)+".tmp")
		if err = os.WriteFile(tmp, []byte(uri+"\n"), 0o644); err == nil {
			err = os.Rename(tmp, *uriFile)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "devstore: %v\n", err)
			os.Exit(1)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Fprintf(os.Stderr, "devstore: FerretDB %s on %s, pid %d\n", ferretVersion(), uri, os.Getpid())
	_ = f.Run(ctx)
	fmt.Fprintln(os.Stderr, "devstore: stopped")
}

// ferretVersion is the FerretDB module version this binary was built with.
func ferretVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/FerretDB/FerretDB" {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}
