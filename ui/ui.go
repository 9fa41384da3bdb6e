// Package ui holds Catfish's admin page: static files (HTML, one CSS file,
// vanilla ES modules) embedded in the binary and served at "/" by httpapi.
//
// The page needs no build step and loads nothing from elsewhere, so the
// strict Content-Security-Policy httpapi sends (no inline script or style)
// holds. The package has no state; the files are read-only.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS returns the page's files rooted at the static directory: index.html
// at its top.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // "static" is a valid path, so this cannot happen
	}
	return sub
}
