// Command testmodel serves the OpenAI-compatible protocol of package
// openaitest over HTTP. It is a test stand-in for a model server, used by the
// browser test: its answers are canned and deterministic, and no model is
// involved.
//
// Usage:
//
//	go run ./e2e/testmodel -addr 127.0.0.1:0
//
// With -echo it answers every request with the last user message verbatim
// (n copies), so a test can choose the answers.
//
// Once it accepts connections it prints exactly one line to stdout,
// "listening on http://HOST:PORT/v1", and it exits on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"rustexpert/inference/openaitest"
)

const shutdownGrace = 5 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on; port 0 picks a free one")
	echo := flag.Bool("echo", false, "answer every request with the last user message verbatim")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	handler := openaitest.Handler(openaitest.Options{TokenDelay: 2 * time.Millisecond})
	if *echo {
		handler = echoHandler()
	}
	if err := run(ctx, *addr, handler, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testmodel:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, announcing the base URL on out once the
// listening socket is open.
func run(ctx context.Context, addr string, handler http.Handler, out io.Writer) error {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	if _, err := fmt.Fprintf(out, "listening on %s\n", baseURL(listener.Addr().(*net.TCPAddr))); err != nil {
		_ = server.Close()
		return fmt.Errorf("announcing address: %w", err)
	}
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// baseURL returns the API root for a listening address. A wildcard address
// is announced as loopback so that the printed URL can be dialled.
func baseURL(addr *net.TCPAddr) string {
	ip := addr.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port)) + "/v1"
}
