// Package static holds the browser assets: the app's own css and js, and third-party libraries
// copied from node_modules by `make vendor` (package.json and package-lock.json pin them).
package static

import "embed"

// FS holds every asset served under /static/.
//
//go:embed css js img vendor
var FS embed.FS
