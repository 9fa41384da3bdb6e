package httpapi

import (
	"net/http"

	"catfish/engine/keys"
)

// Client keys: /admin/keys. Bodies are decoded strictly (readStrict):
// name, schemes, expires_at, enabled, rpm, tpm, token_quota, spelled
// exactly so. Answers are never cached (adm sets no-store): a create or a
// rotation carries the secret.

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var p keys.Patch
	if err := s.readStrict(w, r, &p); err != nil {
		return err
	}
	v, err := s.admin.CreateKey(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	v, err := s.admin.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateKey(w http.ResponseWriter, r *http.Request) error {
	var p keys.Patch
	if err := s.readStrict(w, r, &p); err != nil {
		return err
	}
	v, err := s.admin.UpdateKey(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.admin.DeleteKey(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) error {
	v, err := s.admin.RotateKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
