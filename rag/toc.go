package rag

import (
	"path/filepath"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// tocNumbers reads an mdBook's toc.html and returns each page's chapter number ("4.2") by its
// path. A book without one (or a folder that is not a book) has no numbers.
func tocNumbers(dir string) map[string]string {
	data, err := readPage(filepath.Join(dir, "toc.html"))
	if err != nil {
		return nil
	}
	root, err := html.Parse(strings.NewReader(string(data)))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	visit(root, func(n *html.Node) bool {
		if n.Type != html.ElementNode || n.DataAtom != atom.A {
			return true
		}
		href := attr(n, "href")
		if strong := findElement(n, atom.Strong); strong != nil && href != "" {
			out[strings.SplitN(href, "#", 2)[0]] = strings.TrimSuffix(strings.TrimSpace(innerText(strong)), ".")
		}
		return false
	})
	return out
}
