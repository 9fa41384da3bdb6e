package httpapi

import (
	"io/fs"
	"net/http"

	"catfish/engine/dialect"
)

// uiCSP allows the admin page its own files and nothing else: no inline
// script or style, no other origin, no framing.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// uiHandler serves the admin page's files with the security headers on
// every answer, errors included. no-cache makes browsers revalidate, so
// an upgraded binary's page is picked up at once.
func uiHandler(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, dialect.Errorf(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				"Method "+r.Method+" is not allowed for "+r.URL.Path), dialect.Chat)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		fsrv.ServeHTTP(&uiWriter{ResponseWriter: w, r: r}, r)
	})
}

// uiWriter sets Cache-Control as the header goes out: the file server
// drops it from error answers, which must not be cached either. Those
// answers (plain text from the file server) become JSON errors, as on
// every other path.
type uiWriter struct {
	http.ResponseWriter
	r      *http.Request
	wrote  bool
	failed bool // an error answer was sent in place of the file server's
}

func (w *uiWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.Header().Set("Cache-Control", "no-cache")
	if code < 400 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.failed = true
	w.Header().Del("Content-Type")
	err := notFound(w.r)
	if code != http.StatusNotFound {
		err = dialect.Errorf(code, "invalid_request_error", "ui_error", http.StatusText(code))
	}
	writeError(w.ResponseWriter, err, dialect.Chat)
}

func (w *uiWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return len(b), nil // the file server's own text: already replaced
	}
	return w.ResponseWriter.Write(b)
}

func (w *uiWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
