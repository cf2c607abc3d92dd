// Command hello is the Go example service of whittle: an HTTP server on :8080
// that answers GET / with a fixed line and GET /healthz with "ok". Standard
// library only, so it builds offline in any golang image.
//
//	hello [-addr :8080]   serve
//	hello -selftest       start on a loopback port, check both answers, exit 0 or 1
package main

import (
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
const Greeting = "hello from whittle (go)\n"

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
	return mux
}

// selftest serves on 127.0.0.1 and checks the two answers.
func selftest() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler()}
	go srv.Serve(l)
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	for path, want := range map[string]string{"/": Greeting, "/healthz": "ok\n"} {
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

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
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
