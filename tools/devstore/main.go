// Command devstore runs FerretDB (MongoDB wire protocol) over PostgreSQL for
// development and tests. It embeds FerretDB's package instead of using the
// ferretdb command, whose non-release builds refuse to start.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve the MongoDB protocol on")
	pg := flag.String("postgresql-url", "", "PostgreSQL URL, e.g. postgres://postgres@/ferretdb?host=/path/to/socket-dir")
	flag.Parse()
	if *pg == "" {
		fmt.Fprintln(os.Stderr, "devstore: -postgresql-url is required")
		os.Exit(2)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Handler:       "postgresql",
		PostgreSQLURL: *pg,
	})
	if err != nil {
		log.Fatalf("devstore: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Printf("devstore: FerretDB on %s", *listen)
	f.Run(ctx)
	log.Printf("devstore: stopped")
}
