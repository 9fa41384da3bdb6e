package engine

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// weakKeyLen is the shortest ADMIN_KEY that draws no warning on a server
// listening on all interfaces.
const weakKeyLen = 16

// ensureAdminKey settles the admin key before anything else starts: the
// configured one, else the one kept in DataDir/admin_key, else a new one
// generated there and shown once. It logs where the key came from (never
// the key) and warns about a short key on a server open to every
// interface.
func (e *Engine) ensureAdminKey() error {
	switch {
	case e.cfg.AdminKey == "":
		if err := e.adminKeyFile(); err != nil {
			return err
		}
	case e.cfg.AdminKeySource == "":
		e.cfg.AdminKeySource = "configuration"
	}
	e.log.Info("admin key", "source", e.cfg.AdminKeySource)
	if utf8.RuneCountInString(e.cfg.AdminKey) < weakKeyLen && listensEverywhere(e.cfg.Addr) {
		e.log.Warn(fmt.Sprintf("ADMIN_KEY is shorter than %d characters and the server listens on all interfaces: "+
			"anyone who reaches it may guess the key; set a long random one (openssl rand -hex 24), or HOST=127.0.0.1", weakKeyLen),
			"addr", e.cfg.Addr)
	}
	return nil
}

// adminKeyFile reads the key kept in DataDir, or generates and keeps one
// on first start, so it survives restarts.
func (e *Engine) adminKeyFile() error {
	path := filepath.Join(e.cfg.DataDir, "admin_key")
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if key == "" {
			return fmt.Errorf("%s is empty: delete it to generate a new key, or set ADMIN_KEY", path)
		}
		e.cfg.AdminKey, e.cfg.AdminKeySource = key, "file "+path
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read admin key: %w", err)
	}
	if err := os.MkdirAll(e.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	key := "sk-catfish-" + base64.RawURLEncoding.EncodeToString(raw)
	if err := writeFileSync(path, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("save admin key: %w", err)
	}
	e.cfg.AdminKey, e.cfg.AdminKeySource = key, "generated file "+path
	e.log.Warn("ADMIN_KEY was not set: generated one and saved it in " + path + "; it is shown only this once")
	// The key goes to the log output once and bypasses the ring, so
	// /admin/logs never holds it; in JSON it is a record like any other.
	if e.cfg.LogFormat == "json" {
		slog.New(slog.NewJSONHandler(e.logs.out, nil)).Warn("generated admin key", "admin_key", key, "file", path)
	} else {
		fmt.Fprintf(e.logs.out, "\n    ADMIN_KEY=%s\n\n", key)
	}
	return nil
}

// listensEverywhere reports whether addr (host:port) listens on all
// interfaces: no host, 0.0.0.0 or ::.
func listensEverywhere(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// writeFileSync writes a new file and syncs it and its directory.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
