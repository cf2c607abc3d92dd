// Command greeter is the seed's Go service (example 4): an HTTP server that
// answers GET / with a fixed line, GET /healthz with "ok" and GET /api/hello
// with JSON. Standard library only, so it builds offline in any Go image
// (Go 1.19 or later).
//
// It listens on $BIND:$PORT (default 0.0.0.0:8080, as a container should);
// -selftest serves on a loopback port, checks the answers and exits 0 or 1.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

// Greeting is what GET / answers.
const Greeting = "hello from the seed (go)\n"

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, Greeting)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/api/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"message": "hello from the seed", "language": "go"})
	})
	return mux
}

// selftest serves on 127.0.0.1 and checks the answers.
func selftest() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler()}
	go srv.Serve(l)
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	for path, want := range map[string]string{
		"/":          Greeting,
		"/healthz":   "ok\n",
		"/api/hello": `{"language":"go","message":"hello from the seed"}` + "\n",
	} {
		resp, err := client.Get("http://" + l.Addr().String() + path)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || string(body) != want {
			return fmt.Errorf("GET %s: %s %q, want 200 %q", path, resp.Status, body, want)
		}
	}
	return nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	addr := flag.String("addr", net.JoinHostPort(env("BIND", "0.0.0.0"), env("PORT", "8080")), "address to listen on")
	self := flag.Bool("selftest", false, "check the service on a loopback port and exit")
	flag.Parse()
	if *self {
		if err := selftest(); err != nil {
			fmt.Fprintln(os.Stderr, "selftest:", err)
			os.Exit(1)
		}
		fmt.Println("selftest: ok")
		return
	}
	log.Printf("listening on %s", *addr)
	srv := &http.Server{Addr: *addr, Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
