package handlers

import (
	"net/http"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
)

// compressedTypes are the responses compressResponses compresses: what a browser renders or runs.
// Event streams, already compressed downloads and images pass through as they are.
var compressedTypes = []string{
	"text/html", "text/css", "text/plain", "text/csv", "text/javascript",
	"application/javascript", "application/json", "image/svg+xml",
}

// compressResponses sends responses of compressedTypes of at least 1 KiB as zstd or gzip,
// whichever the client accepts (gzhttp), at the fastest level: pages are built per request, and
// a few hundred kilobytes of HTML then cost well under a millisecond. Pages carry CSRF tokens next
// to text a visitor can choose, so each compressed body also gets 1–32 bytes of padding derived
// from its first 64 KiB, against guessing a token from response sizes (BREACH). Websocket upgrades
// and event streams pass through; a response that already says its Content-Encoding is left alone.
var compressResponses = newCompressor()

func newCompressor() func(http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(
		gzhttp.ContentTypes(compressedTypes),
		gzhttp.CompressionLevel(gzip.BestSpeed),
		gzhttp.RandomJitter(32, 0, false),
	)
	if err != nil {
		panic("handlers: compression options: " + err.Error()) // the options above are constants
	}
	return func(h http.Handler) http.Handler { return wrap(h) }
}
