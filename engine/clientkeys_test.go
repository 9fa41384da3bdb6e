package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"catfish/engine/enginetest"
	"catfish/engine/keys"
	"catfish/engine/state"
	"catfish/persist"
)

// The /v1 seam (Authenticate, Admit and release on every request) is
// wired by httpapi and engine/proxy; these tests call it directly on the
// engine's actor, as the seam will.

var secretPattern = regexp.MustCompile(`^sk-cf-[0-9A-Za-z]{32}$`)

// createKey makes a client key through the admin API; it returns the
// answer (with the secret, once).
func (h *harness) createKey(body string) keys.Created {
	h.t.Helper()
	code, _, got := h.call("POST", "/admin/keys", body)
	if code != 200 {
		h.t.Fatalf("POST /admin/keys %s: %d %s", body, code, got)
	}
	var c keys.Created
	if err := json.Unmarshal([]byte(got), &c); err != nil {
		h.t.Fatalf("create answer %s: %v", got, err)
	}
	if !secretPattern.MatchString(c.Key) {
		h.t.Fatalf("create answer's key %q is not sk-cf- and 32 base62 characters", c.Key)
	}
	return c
}

// keyList is GET /admin/keys.
func (h *harness) keyList() []keys.View {
	h.t.Helper()
	var list []keys.View
	h.getJSON("/admin/keys", &list)
	return list
}

// use runs one request through the seam as the proxy will: authenticate,
// admit, release.
func (h *harness) use(secret string, u keys.Usage, failed bool) error {
	h.t.Helper()
	k := h.e.ClientKeys()
	c, err := k.Authenticate(secret, time.Now())
	if err != nil {
		return err
	}
	release, _, err := k.Admit(context.Background(), c, time.Now())
	if err != nil {
		return err
	}
	release(u, failed)
	return nil
}

func errParam(body string) string {
	var e struct{ Error struct{ Param string } }
	json.Unmarshal([]byte(body), &e)
	return e.Error.Param
}

func TestClientKeysAdminAPI(t *testing.T) {
	h := newHarness(t, nil)
	if list := h.keyList(); list == nil || len(list) != 0 {
		t.Fatalf("no keys yet: got %v, want []", list)
	}
	c := h.createKey(`{"name":"app","schemes":["main","fast"],"rpm":60,"tpm":10000,"token_quota":1000000,"expires_at":"2099-01-01T00:00:00Z"}`)
	if c.ID == "" || c.Name != "app" || !slices.Equal(c.Schemes, []string{"fast", "main"}) || *c.RPM != 60 || *c.TPM != 10000 ||
		*c.TokenQuota != 1000000 || !c.Enabled || c.Expired || c.ExpiresAt.Year() != 2099 || c.Minute == nil {
		t.Errorf("create answer: %+v", c)
	}
	plain := h.createKey(`{"name":"plain"}`)
	if plain.Minute != nil || len(plain.Schemes) != 0 || plain.RPM != nil || plain.ExpiresAt != nil {
		t.Errorf("defaults: %+v", plain)
	}
	masked := "sk-cf-…" + c.Key[len(c.Key)-4:]

	// Listed masked, never with the secret or its hash.
	code, _, raw := h.call("GET", "/admin/keys", "")
	if code != 200 || strings.Contains(raw, c.Key) || strings.Contains(raw, keys.HashSecret(c.Key)) || strings.Contains(raw, `"hash"`) {
		t.Fatalf("GET /admin/keys shows a secret or hash: %s", raw)
	}
	list := h.keyList()
	if len(list) != 2 || list[0].ID != c.ID || list[0].Key != masked || list[1].ID != plain.ID {
		t.Fatalf("list: %+v", list)
	}
	var one keys.View
	h.getJSON("/admin/keys/"+c.ID, &one)
	if one.Key != masked || one.Name != "app" {
		t.Errorf("GET one: %+v", one)
	}

	// The secret works; it reaches /v1 only.
	caller, err := h.e.ClientKeys().Authenticate(c.Key, time.Now())
	if err != nil || caller.ID != c.ID || caller.Name != "app" || !caller.Limited || !slices.Equal(caller.Scope, []string{"fast", "main"}) {
		t.Fatalf("Authenticate: %+v %v", caller, err)
	}

	// Update: omitted fields stay, null clears.
	code, _, body := h.call("PUT", "/admin/keys/"+c.ID, `{"name":"app2","rpm":null,"schemes":[]}`)
	var up keys.View
	if json.Unmarshal([]byte(body), &up); code != 200 || up.Name != "app2" || up.RPM != nil || *up.TPM != 10000 || len(up.Schemes) != 0 || up.Key != masked {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if caller, _ := h.e.ClientKeys().Authenticate(c.Key, time.Now()); caller.Name != "app2" || caller.Scope != nil {
		t.Errorf("after PUT the table says %+v", caller)
	}
	// Disable: refused at once; enable again.
	h.call("PUT", "/admin/keys/"+c.ID, `{"enabled":false}`)
	if _, err := h.e.ClientKeys().Authenticate(c.Key, time.Now()); err != keys.ErrInvalidKey {
		t.Errorf("disabled key: %v", err)
	}
	h.call("PUT", "/admin/keys/"+c.ID, `{"enabled":true}`)

	// Rotate: a new secret, once; the old one refused at once.
	code, _, body = h.call("POST", "/admin/keys/"+c.ID+"/rotate", "")
	var rot keys.Created
	json.Unmarshal([]byte(body), &rot)
	if code != 200 || !secretPattern.MatchString(rot.Key) || rot.Key == c.Key || rot.ID != c.ID || rot.Name != "app2" {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if _, err := h.e.ClientKeys().Authenticate(c.Key, time.Now()); err != keys.ErrInvalidKey {
		t.Errorf("old secret after rotate: %v", err)
	}
	if got, err := h.e.ClientKeys().Authenticate(rot.Key, time.Now()); err != nil || got.ID != c.ID {
		t.Errorf("new secret: %+v %v", got, err)
	}
	if l := h.keyList(); l[0].Key != "sk-cf-…"+rot.Key[len(rot.Key)-4:] {
		t.Errorf("masked after rotate: %s", l[0].Key)
	}

	// Delete: 204, refused at once, gone from the list.
	if code, _, body := h.call("DELETE", "/admin/keys/"+c.ID, ""); code != 204 || body != "" {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if _, err := h.e.ClientKeys().Authenticate(rot.Key, time.Now()); err != keys.ErrInvalidKey {
		t.Errorf("deleted key: %v", err)
	}
	if l := h.keyList(); len(l) != 1 || l[0].ID != plain.ID {
		t.Errorf("list after delete: %+v", l)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/keys/" + c.ID}, {"PUT", "/admin/keys/" + c.ID}, {"DELETE", "/admin/keys/" + c.ID}, {"POST", "/admin/keys/" + c.ID + "/rotate"},
	} {
		if code, _, body := h.call(r.method, r.path, `{"name":"x"}`); code != 404 {
			t.Errorf("%s %s of a deleted key: %d %s, want 404", r.method, r.path, code, body)
		}
	}

	// Every change is logged, without a secret or hash.
	logs := strings.Join(h.e.logs.Lines(), "\n")
	for _, want := range []string{"client key created", "client key changed", "client key rotated", "client key deleted"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the logs", want)
		}
	}
	for _, secret := range []string{c.Key, rot.Key, plain.Key} {
		if strings.Contains(logs, secret) || strings.Contains(logs, keys.HashSecret(secret)) || strings.Contains(logs, keys.HashSecret(secret)[:16]) {
			t.Errorf("the logs show a secret or its hash")
		}
	}
}

func TestClientKeysRefuseBadInputAndChangeNothing(t *testing.T) {
	h := newHarness(t, nil)
	c := h.createKey(`{"name":"taken"}`)
	before := h.keyList()
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", "/admin/keys", `{}`, "name"},
		{"POST", "/admin/keys", `{"name":"taken"}`, "name"},
		{"POST", "/admin/keys", `{"name":"admin"}`, "name"},
		{"POST", "/admin/keys", `{"Name":"x"}`, "Name"},
		{"POST", "/admin/keys", `{"name":"x","RPM":5}`, "RPM"},
		{"POST", "/admin/keys", `{"name":"x","key":"sk-cf-mine"}`, "key"},
		{"POST", "/admin/keys", `{"name":"x","rpm":0}`, "rpm"},
		{"POST", "/admin/keys", `{"name":"x","tpm":"many"}`, "tpm"},
		{"POST", "/admin/keys", `{"name":"x","token_quota":-5}`, "token_quota"},
		{"POST", "/admin/keys", `{"name":"x","expires_at":"next week"}`, "expires_at"},
		{"POST", "/admin/keys", `{"name":"x","schemes":"main"}`, "schemes"},
		{"POST", "/admin/keys", `{"name":"x","schemes":["a","a"]}`, "schemes"},
		{"POST", "/admin/keys", `{"name":"x","enabled":"yes"}`, "enabled"},
		{"POST", "/admin/keys", `[]`, ""},
		{"PUT", "/admin/keys/" + c.ID, `{"usage":{}}`, "usage"},
		{"PUT", "/admin/keys/" + c.ID, `{"id":"other"}`, "id"},
		{"PUT", "/admin/keys/" + c.ID, `{"name":""}`, "name"},
		{"PUT", "/admin/keys/" + c.ID, `{"Enabled":false}`, "Enabled"},
		{"PUT", "/admin/keys/" + c.ID, `{"name":null}`, "name"},
	} {
		code, _, body := h.call(tc.method, tc.path, tc.body)
		if code != 400 || errParam(body) != tc.field {
			t.Errorf("%s %s %s: %d %s, want 400 naming %q", tc.method, tc.path, tc.body, code, body, tc.field)
		}
	}
	if after := h.keyList(); !slices.EqualFunc(before, after, func(a, b keys.View) bool { return a.ID == b.ID && a.Name == b.Name }) {
		t.Errorf("a refused request changed the keys: %+v", after)
	}
}

// TestClientKeyNeverReachesAdmin: a client key's secret opens no /admin
// route, nor /metrics.
func TestClientKeyNeverReachesAdmin(t *testing.T) {
	h := newHarness(t, nil)
	c := h.createKey(`{"name":"app"}`)
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/config"}, {"POST", "/admin/config"}, {"PUT", "/admin/config/x"}, {"DELETE", "/admin/config/x"},
		{"POST", "/admin/config/x/test"}, {"POST", "/admin/config/x/reset"}, {"GET", "/admin/stats"}, {"GET", "/admin/requests"},
		{"GET", "/admin/logs"}, {"GET", "/admin/export"}, {"POST", "/admin/import"}, {"GET", "/admin/schemes"},
		{"PUT", "/admin/schemes"}, {"GET", "/admin/schemes/x"}, {"PUT", "/admin/schemes/x"}, {"GET", "/admin/keys"},
		{"POST", "/admin/keys"}, {"GET", "/admin/keys/" + c.ID}, {"PUT", "/admin/keys/" + c.ID},
		{"DELETE", "/admin/keys/" + c.ID}, {"POST", "/admin/keys/" + c.ID + "/rotate"}, {"GET", "/admin/nothing"}, {"GET", "/metrics"},
	} {
		cc := &canaryClient{t: t, base: h.base}
		code, _, body := cc.send(r.method, r.path, "Bearer "+c.Key, `{"name":"x"}`)
		if code != 401 {
			t.Errorf("%s %s with a client key: %d %s, want 401", r.method, r.path, code, body)
		}
	}
	if l := h.keyList(); len(l) != 1 || l[0].ID != c.ID {
		t.Errorf("keys changed: %+v", l)
	}
}

func TestClientKeyUsageCounted(t *testing.T) {
	h := newHarness(t, nil)
	c := h.createKey(`{"name":"app","token_quota":100}`)
	if err := h.use(c.Key, keys.Usage{Prompt: 30, Completion: 50}, false); err != nil {
		t.Fatal(err)
	}
	if err := h.use(c.Key, keys.Usage{Prompt: 10, Completion: 15}, true); err != nil {
		t.Fatal(err)
	}
	// The quota is spent (105 ≥ 100): the next request is refused.
	if err := h.use(c.Key, keys.Usage{}, false); err != keys.ErrQuotaExceeded {
		t.Errorf("over the quota: got %v, want ErrQuotaExceeded", err)
	}
	var v keys.View
	h.getJSON("/admin/keys/"+c.ID, &v)
	u := v.Usage
	if u.Requests != 2 || u.Failures != 1 || u.PromptTokens != 40 || u.CompletionTokens != 65 || u.LastUsed == nil ||
		time.Since(*u.LastUsed) > time.Minute {
		t.Errorf("usage: %+v", u)
	}
	// Raising the quota lets it through again.
	if code, _, body := h.call("PUT", "/admin/keys/"+c.ID, `{"token_quota":1000}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if err := h.use(c.Key, keys.Usage{Prompt: 1}, false); err != nil {
		t.Errorf("after raising the quota: %v", err)
	}
}

// keyState is what must survive a restart: every key's configuration
// and usage as the admin API lists them (the current minute aside).
func (h *harness) keyState() string {
	h.t.Helper()
	list := h.keyList()
	for i := range list {
		list[i].Minute = nil
	}
	b, _ := json.MarshalIndent(list, "", " ")
	return string(b)
}

// waitKeyUsageFlushed waits until the journal holds id's usage with
// want requests.
func waitKeyUsageFlushed(t *testing.T, dir, id string, want int64) {
	t.Helper()
	enginetest.WaitFor(t, 15*time.Second, "the flusher to journal key usage", func() bool {
		var got int64
		for _, r := range journal(t, dir) {
			if r.Type == state.RecKeyUsage {
				var m map[string]keys.Totals
				json.Unmarshal(r.Payload, &m)
				if u, ok := m[id]; ok {
					got = u.Requests
				}
			}
		}
		return got == want
	})
}

func TestClientKeysAndUsageSurviveRestart(t *testing.T) {
	for _, rs := range restarters {
		t.Run(rs.name, func(t *testing.T) {
			n := startNode(t, testConfig(t))
			a := n.createKey(`{"name":"a","schemes":["s1"],"rpm":100,"token_quota":5000,"expires_at":"2099-05-01T10:00:00Z"}`)
			b := n.createKey(`{"name":"b"}`)
			gone := n.createKey(`{"name":"gone"}`)
			if code, _, body := n.call("PUT", "/admin/keys/"+b.ID, `{"name":"b2","enabled":false,"tpm":500}`); code != 200 {
				t.Fatalf("PUT: %d %s", code, body)
			}
			code, _, body := n.call("POST", "/admin/keys/"+a.ID+"/rotate", "")
			var rot keys.Created
			if json.Unmarshal([]byte(body), &rot); code != 200 {
				t.Fatalf("rotate: %d %s", code, body)
			}
			for i := range 3 {
				if err := n.use(rot.Key, keys.Usage{Prompt: 100, Completion: int64(i)}, i == 2); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.use(gone.Key, keys.Usage{Prompt: 7}, false); err != nil {
				t.Fatal(err)
			}
			if code, _, _ := n.call("DELETE", "/admin/keys/"+gone.ID, ""); code != 204 {
				t.Fatalf("DELETE: %d", code)
			}
			waitKeyUsageFlushed(t, n.cfg.DataDir, a.ID, 3)
			before := n.keyState()

			n2 := rs.restart(t, n)
			if got := n2.keyState(); got != before {
				t.Errorf("keys after restart:\n%s\nwant\n%s", got, before)
			}
			// The secrets still work (only their hashes were kept), the
			// rotated and deleted ones still do not, and the quota counts
			// the usage from before.
			if c, err := n2.e.ClientKeys().Authenticate(rot.Key, time.Now()); err != nil || c.ID != a.ID || !c.Limited {
				t.Errorf("rotated secret after restart: %+v %v", c, err)
			}
			for name, s := range map[string]string{"the old secret": a.Key, "a deleted key": gone.Key, "a disabled key": b.Key} {
				if _, err := n2.e.ClientKeys().Authenticate(s, time.Now()); err != keys.ErrInvalidKey {
					t.Errorf("%s after restart: %v", name, err)
				}
			}
			n2.call("PUT", "/admin/keys/"+a.ID, `{"token_quota":303}`)
			if err := n2.use(rot.Key, keys.Usage{}, false); err != keys.ErrQuotaExceeded {
				t.Errorf("quota after restart: got %v, want ErrQuotaExceeded (303 tokens used before)", err)
			}
			// And once more, from the snapshot the first restart wrote.
			n2.stop()
			if got := startNode(t, n2.cfg).keyState(); got != n2.keyStateAfterStop(t, before) {
				t.Errorf("keys after a second restart:\n%s", got)
			}
		})
	}
}

// keyStateAfterStop is the state expected after the quota change of the
// test above.
func (h *harness) keyStateAfterStop(t *testing.T, before string) string {
	return strings.Replace(before, `"token_quota": 5000`, `"token_quota": 303`, 1)
}

func TestClientKeysCompaction(t *testing.T) {
	cfg := testConfig(t)
	cfg.CompactBytes = 1 // every flush compacts
	n := startNode(t, cfg)
	a := n.createKey(`{"name":"a","rpm":10}`)
	for range 4 {
		if err := n.use(a.Key, keys.Usage{Prompt: 2, Completion: 3}, false); err != nil {
			t.Fatal(err)
		}
	}
	enginetest.WaitFor(t, 15*time.Second, "a compaction holding the usage", func() bool {
		b, err := readSnapshotState(cfg.DataDir)
		if err != nil {
			return false
		}
		var s state.Snapshot
		json.Unmarshal(b, &s)
		return len(s.Keys) == 1 && s.KeyUsage[a.ID].Requests == 4
	})
	before := n.keyState()
	crashed := cfg
	crashed.DataDir = copyDataDir(t, cfg.DataDir)
	if got := startNode(t, crashed).keyState(); got != before {
		t.Errorf("after a crash right after compaction:\n%s\nwant\n%s", got, before)
	}
}

func TestClientKeysExportImport(t *testing.T) {
	src := newHarness(t, nil)
	src.addChannel(map[string]any{"url": "https://a.example/v1", "scheme_name": "main"})
	src.call("PUT", "/admin/schemes/main", `{"aliases":["gpt-*"]}`)
	a := src.createKey(`{"name":"a","schemes":["main"],"rpm":5}`)
	b := src.createKey(`{"name":"b","enabled":false}`)
	raw := src.exportRaw()
	if strings.Contains(raw, a.Key) || strings.Contains(raw, b.Key) {
		t.Fatalf("the export holds a secret")
	}
	var exp state.Export
	json.Unmarshal([]byte(raw), &exp)
	if exp.Version != 2 || len(exp.Keys) != 2 || exp.Keys[0].Hash != keys.HashSecret(a.Key) || len(exp.Config["main"]) != 1 ||
		!slices.Equal(exp.Schemes["main"].Aliases, []string{"gpt-*"}) {
		t.Fatalf("export: %s", raw)
	}

	// Into a fresh server: the secrets work there (the hash came along).
	dst := newHarness(t, nil)
	if code, _, body := dst.call("POST", "/admin/import?dry_run=true", raw); code != 200 || !strings.Contains(body, `"keys":{"keys":2,"added":2`) {
		t.Fatalf("dry run: %d %s", code, body)
	}
	if len(dst.keyList()) != 0 {
		t.Fatalf("a dry run imported keys")
	}
	if code, _, body := dst.call("POST", "/admin/import", raw); code != 200 {
		t.Fatalf("import: %d %s", code, body)
	}
	if c, err := dst.e.ClientKeys().Authenticate(a.Key, time.Now()); err != nil || c.ID != a.ID || !slices.Equal(c.Scope, []string{"main"}) {
		t.Errorf("imported key: %+v %v", c, err)
	}
	if _, err := dst.e.ClientKeys().Authenticate(b.Key, time.Now()); err != keys.ErrInvalidKey {
		t.Errorf("imported disabled key: %v", err)
	}
	if got := dst.exportRaw(); got != raw {
		t.Errorf("export after import differs:\n%s\nwant\n%s", got, raw)
	}

	// The older formats leave the keys alone.
	if code, _, body := dst.call("POST", "/admin/import", `{"other":[{"priority":1,"url":"https://b.example/v1","api_key":"sk-bbbbbbbbbbbb"}]}`); code != 200 || strings.Contains(body, `"keys"`) {
		t.Fatalf("bare scheme map import: %d %s", code, body)
	}
	if len(dst.keyList()) != 2 {
		t.Errorf("a bare scheme map removed the keys")
	}
	// Merge adds and updates by id; replace drops the rest.
	c := dst.createKey(`{"name":"local"}`)
	if code, _, body := dst.call("POST", "/admin/import?mode=merge", raw); code != 200 || len(dst.keyList()) != 3 {
		t.Fatalf("merge: %d %s, %d keys", code, body, len(dst.keyList()))
	}
	if code, _, body := dst.call("POST", "/admin/import", raw); code != 200 || !strings.Contains(body, `"removed":1}`) {
		t.Fatalf("replace: %d %s", code, body)
	}
	if _, err := dst.e.ClientKeys().Authenticate(c.Key, time.Now()); err != keys.ErrInvalidKey {
		t.Errorf("a key the replace import dropped still works: %v", err)
	}

	// One bad key rejects the whole document; nothing changes.
	before := dst.exportRaw()
	for field, doc := range map[string]string{
		"keys[1].hash":  strings.Replace(raw, exp.Keys[1].Hash, "secret-instead-of-hash", 1),
		"keys[1].name":  strings.Replace(raw, `"name":"b"`, `"name":"a"`, 1),
		"keys[1].id":    strings.Replace(raw, exp.Keys[1].ID, exp.Keys[0].ID, 1),
		"keys[0].last4": strings.Replace(raw, `"last4":"`+exp.Keys[0].Last4, `"last4":"…`, 1),
	} {
		code, _, body := dst.call("POST", "/admin/import", doc)
		if code != 400 || errParam(body) != field {
			t.Errorf("import with a bad %s: %d %s", field, code, body)
		}
	}
	if code, _, body := dst.call("POST", "/admin/import", `{"catfish_export":3,"config":{}}`); code != 400 || errParam(body) != "catfish_export" {
		t.Errorf("a later version: %d %s", code, body)
	}
	if after := dst.exportRaw(); after != before {
		t.Errorf("a refused import changed the configuration")
	}
}

// TestImportOfAWholeExportIsOneRecord: channels, scheme settings and keys
// of one import are one journal record, so a crash keeps all or nothing.
func TestImportOfAWholeExportIsOneRecord(t *testing.T) {
	src := newHarness(t, nil)
	src.addChannel(map[string]any{"url": "https://a.example/v1", "scheme_name": "main"})
	src.call("PUT", "/admin/schemes/main", `{"aliases":["gpt-*"]}`)
	src.createKey(`{"name":"a"}`)
	n := startNode(t, testConfig(t))
	before := len(journal(t, n.cfg.DataDir))
	if code, _, body := n.call("POST", "/admin/import", src.exportRaw()); code != 200 {
		t.Fatalf("import: %d %s", code, body)
	}
	var types []string
	for _, r := range journal(t, n.cfg.DataDir)[before:] {
		if r.Type != state.RecStats && r.Type != state.RecBreakers && r.Type != state.RecKeyUsage {
			types = append(types, r.Type)
		}
	}
	if !slices.Equal(types, []string{state.RecBatch}) {
		t.Errorf("records written: %v, want one %s", types, state.RecBatch)
	}
	// Replayed after a crash, the batch rebuilds the same configuration.
	want := n.exportRaw()
	crashed := n.cfg
	crashed.DataDir = copyDataDir(t, n.cfg.DataDir)
	if got := startNode(t, crashed).exportRaw(); got != want {
		t.Errorf("after replaying the batch:\n%s\nwant\n%s", got, want)
	}
}

// readSnapshotState returns the "state" of dir's snapshot.
func readSnapshotState(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, persist.SnapshotFile))
	if err != nil {
		return nil, err
	}
	var s struct {
		State json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return s.State, nil
}

func keyhash(secret string) string { return keys.HashSecret(secret) }

// clientKeyTraffic exercises the client keys for the canary test: every
// admin route, usage through the seam, export and import, and the secrets
// sent where they open nothing. It returns every secret it made.
func clientKeyTraffic(t *testing.T, c *canaryClient, n *node) []string {
	t.Helper()
	if c.shows == nil {
		c.shows = map[int]string{}
	}
	var secrets []string
	create := func(body string) keys.Created {
		t.Helper()
		code, _, got := c.do("POST", "/admin/keys", body)
		var k keys.Created
		if json.Unmarshal([]byte(got), &k); code != 200 || !strings.Contains(got, k.Key) || !secretPattern.MatchString(k.Key) {
			t.Fatalf("create key: %d %s", code, got)
		}
		c.shows[len(c.answers)-1] = k.Key
		secrets = append(secrets, k.Key)
		return k
	}
	a := create(`{"name":"canary-a","schemes":["ok","echo-500"],"rpm":1000,"tpm":100000,"token_quota":1000000}`)
	b := create(`{"name":"canary-b"}`)
	d := create(`{"name":"canary-d","expires_at":"2000-01-01T00:00:00Z"}`)
	c.do("GET", "/admin/keys", "")
	c.do("GET", "/admin/keys/"+a.ID, "")
	c.do("PUT", "/admin/keys/"+a.ID, `{"name":"canary-a2","rpm":500}`)
	c.do("PUT", "/admin/keys/"+a.ID, `{"name":"canary-b"}`)                 // taken
	c.do("PUT", "/admin/keys/"+a.ID, `{"key":"`+a.Key+`"}`)                 // not a field: the error must not echo it
	c.do("POST", "/admin/keys", `{"name":"x","hash":"`+keyhash(a.Key)+`"}`) // nor this
	c.do("PUT", "/admin/keys/"+b.ID, `{"enabled":false}`)
	code, _, got := c.do("POST", "/admin/keys/"+b.ID+"/rotate", "")
	var rot keys.Created
	if json.Unmarshal([]byte(got), &rot); code != 200 || !secretPattern.MatchString(rot.Key) {
		t.Fatalf("rotate: %d %s", code, got)
	}
	c.shows[len(c.answers)-1] = rot.Key
	secrets = append(secrets, rot.Key)

	for i, s := range []string{a.Key, a.Key, rot.Key} {
		if err := n.use(s, keys.Usage{Prompt: int64(i + 1), Completion: 2}, i == 1); err != nil && s == a.Key {
			t.Errorf("use: %v", err)
		}
	}
	// Every secret, good or not, where it opens nothing (or, on /v1,
	// whatever the seam answers).
	for _, s := range []string{a.Key, b.Key, rot.Key, d.Key} {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/admin/keys", ""}, {"GET", "/admin/config", ""}, {"GET", "/admin/export", ""}, {"GET", "/metrics", ""},
			{"POST", "/v1/chat/completions", enginetest.ChatBody("ok", false)}, {"POST", "/v1/chat/completions", enginetest.ChatBody("fast", true)},
			{"GET", "/v1/models", ""},
		} {
			c.send(r.method, r.path, "Bearer "+s, r.body)
		}
	}
	_, _, export := c.do("GET", "/admin/export", "")
	if !strings.Contains(export, keyhash(a.Key)) {
		t.Errorf("/admin/export lacks the hash of a client key: the canary check would prove nothing")
	}
	c.do("POST", "/admin/import?dry_run=true", export)
	c.do("POST", "/admin/import?mode=merge", export)
	c.do("POST", "/admin/import", strings.Replace(export, keyhash(a.Key), "x"+keyhash(a.Key)[1:], 1)) // refused: names the field, not the hash
	c.do("DELETE", "/admin/keys/"+d.ID, "")
	c.do("GET", "/admin/keys", "")
	return secrets
}
