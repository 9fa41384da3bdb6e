package ui

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestNoInlineCode pins what the Content-Security-Policy requires of the
// page: every script and style comes from a file, no handler attributes.
func TestNoInlineCode(t *testing.T) {
	files := FS()
	html, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // a script with a body
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"?(?:https?:)?//`), // nothing from another origin
	} {
		if loc := re.FindStringIndex(page); loc != nil {
			t.Errorf("index.html has inline code or a foreign URL at %d: %q", loc[0], page[loc[0]:min(len(page), loc[1]+40)])
		}
	}
	for _, name := range []string{"app.js", "style.css"} {
		if _, err := fs.Stat(files, name); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	err = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "innerHTML") || strings.Contains(string(b), "insertAdjacentHTML") || strings.Contains(string(b), "document.write") {
			t.Errorf("%s writes HTML from strings; build nodes instead", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
