package enginetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AdminKey is the admin key of the processes Launch starts, unless its
// Env says otherwise; Proc's requests send it.
const AdminKey = "binary-test-admin-key-0123456789"

// builds holds the binaries built by this test process, one per set of
// linker flags. Main removes them.
var builds struct {
	mu     sync.Mutex
	inMain bool
	dir    string
	bins   map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error // set by once
}

// Main runs a package's tests and then removes the binaries Binary built.
// A package that runs the binary calls it from its TestMain.
func Main(m *testing.M) {
	builds.mu.Lock()
	builds.inMain = true
	builds.mu.Unlock()
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// Binary builds catfish, the module's main package, as `make build` does
// but without the version stamp, once per test process and set of linker
// flags, and returns its path. ldflags are extra -ldflags, such as
// "-X catfish/engine.x=y".
func Binary(t testing.TB, ldflags ...string) string {
	t.Helper()
	flags := strings.Join(ldflags, " ")
	builds.mu.Lock()
	if !builds.inMain {
		builds.mu.Unlock()
		t.Fatal("enginetest.Binary needs enginetest.Main in the package's TestMain (it removes the build)")
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "catfish-bin-")
		if err != nil {
			builds.mu.Unlock()
			t.Fatal(err)
		}
		builds.dir, builds.bins = dir, map[string]*build{}
	}
	b := builds.bins[flags]
	if b == nil {
		b = &build{path: filepath.Join(builds.dir, fmt.Sprint(len(builds.bins)), "catfish")}
		builds.bins[flags] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() { b.err = goBuild(b.path, flags) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func goBuild(out, ldflags string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	root := filepath.Dir(string(bytes.TrimSpace(gomod)))
	if err != nil || root == "." {
		return fmt.Errorf("go env GOMOD: %v (%q)", err, gomod)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// Launch says how to run one catfish process. The zero Launch runs
// Binary(t) on a fresh data directory, listening on a loopback port the
// kernel picks.
type Launch struct {
	// Bin is the binary. Empty: Binary(t).
	Bin string
	// Dir is the working directory, where catfish reads .env. Empty: a
	// fresh empty directory.
	Dir string
	// DataDir is DATA_DIR; a restart on the same one keeps the state.
	// Empty: a fresh directory.
	DataDir string
	// Env holds NAME=value entries added after the defaults, which they
	// override.
	Env []string
	// Bare leaves out the defaults ADMIN_KEY and SHUTDOWN_TIMEOUT: the
	// process sees only PATH, LISTEN, DATA_DIR, TZ and Env. False: the
	// process uses AdminKey and a 10 s shutdown timeout.
	Bare bool
}

// Start runs the binary with Launch{Env: env} and waits until it listens.
func Start(t testing.TB, env ...string) *Proc {
	t.Helper()
	return Launch{Env: env}.Start(t)
}

// StartIn runs the binary with Launch{DataDir: dataDir, Env: env} and
// waits until it listens: a restart on dataDir keeps the state.
func StartIn(t testing.TB, dataDir string, env ...string) *Proc {
	t.Helper()
	return Launch{DataDir: dataDir, Env: env}.Start(t)
}

// Start runs the process and waits until it listens.
func (l Launch) Start(t testing.TB) *Proc {
	t.Helper()
	p := l.Spawn(t)
	p.WaitListening(30 * time.Second)
	return p
}

// Spawn runs the process without waiting for it to listen. The test's
// cleanup kills it if it still runs, and shows its output if the test
// failed.
func (l Launch) Spawn(t testing.TB) *Proc {
	t.Helper()
	if l.Bin == "" {
		l.Bin = Binary(t)
	}
	if l.Dir == "" {
		l.Dir = t.TempDir() // no .env here
	}
	if l.DataDir == "" {
		l.DataDir = t.TempDir()
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "LISTEN=127.0.0.1:0", "DATA_DIR=" + l.DataDir, "TZ=UTC"}
	if !l.Bare {
		env = append(env, "ADMIN_KEY="+AdminKey, "SHUTDOWN_TIMEOUT=10")
	}
	cmd := exec.Command(l.Bin)
	cmd.Dir = l.Dir
	cmd.Env = append(env, l.Env...)
	exited := make(chan struct{})
	p := &Proc{t: t, Cmd: cmd, DataDir: l.DataDir, Out: &LogBuffer{}, Exited: exited,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start catfish: %v", err)
	}
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			out := p.Out.String()
			if len(out) > maxShown {
				out = "…" + out[len(out)-maxShown:]
			}
			t.Logf("catfish %d output:\n%s", cmd.Process.Pid, out)
		}
	})
	return p
}

// maxShown bounds the output a failed test shows per process.
const maxShown = 64 << 10

// Proc is one running catfish process.
type Proc struct {
	t       testing.TB
	Cmd     *exec.Cmd
	Addr    string // host:port it listens on, once it does
	Base    string // http://Addr
	DataDir string
	Out     *LogBuffer      // stdout and stderr
	Exited  <-chan struct{} // closed when the process has ended
	Client  *http.Client    // for the process; Kill closes its idle connections
}

var (
	listeningText = regexp.MustCompile(`msg="catfish listening" addr=(\S+)`)
	listeningJSON = regexp.MustCompile(`"msg":"catfish listening","addr":"([^"]+)"`)
)

// Listening finds the address in catfish's "catfish listening" log line,
// in either log format.
func Listening(out string) (addr string, ok bool) {
	m := listeningText.FindStringSubmatch(out)
	if m == nil {
		m = listeningJSON.FindStringSubmatch(out)
	}
	if m == nil {
		return "", false
	}
	return m[1], true
}

// WaitListening waits until the process says where it listens, and
// fails the test if it exits first or limit passes.
func (p *Proc) WaitListening(limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if addr, ok := Listening(p.Out.String()); ok {
			p.Addr, p.Base = addr, "http://"+addr
			return
		}
		select {
		case <-p.Exited:
			p.t.Fatalf("catfish exited at start:\n%s", p.Out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("catfish not listening after %v:\n%s", limit, p.Out.String())
		}
	}
}

// Kill stops the process at once (SIGKILL), if it still runs, and waits
// until it is gone.
func (p *Proc) Kill() {
	defer p.Client.CloseIdleConnections()
	select {
	case <-p.Exited:
		return
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.Exited:
	case <-time.After(10 * time.Second):
		p.t.Errorf("catfish %d still there 10 s after SIGKILL", p.Cmd.Process.Pid)
	}
}

// Stop sends SIGTERM and waits up to limit for the exit; it returns the
// exit code and how long the exit took.
func (p *Proc) Stop(limit time.Duration) (code int, took time.Duration) {
	p.t.Helper()
	start := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Exited:
	case <-time.After(limit):
		p.t.Fatalf("catfish still running %v after SIGTERM:\n%s", limit, p.Out.String())
	}
	return p.Cmd.ProcessState.ExitCode(), time.Since(start)
}

// Do sends one request with the admin key, body marshalled as JSON
// unless it is []byte or nil, and reads the answer. err is set when no
// whole answer arrived (a killed process).
func (p *Proc) Do(method, path string, body any) (int, []byte, error) {
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	req, err := http.NewRequest(method, p.Base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// Request sends one request with the admin key and reads the answer; no
// answer fails the test.
func (p *Proc) Request(method, path, contentType string, body []byte) (int, http.Header, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.Base+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+AdminKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// Admin sends a JSON admin request (body as in Do); no answer fails the
// test.
func (p *Proc) Admin(method, path string, body any) (int, []byte) {
	p.t.Helper()
	code, b, err := p.Do(method, path, body)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, b
}

// GetJSON reads an admin document into v.
func (p *Proc) GetJSON(path string, v any) {
	p.t.Helper()
	code, b := p.Admin("GET", path, nil)
	if code != 200 {
		p.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		p.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// AddChannel creates a channel and returns its id; priority and api_key
// have defaults.
func (p *Proc) AddChannel(fields map[string]any) string {
	p.t.Helper()
	if _, ok := fields["priority"]; !ok {
		fields["priority"] = 1
	}
	if _, ok := fields["api_key"]; !ok {
		fields["api_key"] = "sk-upstream-0000000000000001"
	}
	code, b := p.Admin("POST", "/admin/config", fields)
	if code != 200 {
		p.t.Fatalf("create channel: %d %s", code, b)
	}
	var ch struct{ ID string }
	json.Unmarshal(b, &ch)
	return ch.ID
}

// Chat sends a chat completion (ChatBody) and reads the whole answer.
func (p *Proc) Chat(model string, stream bool) (int, http.Header, string) {
	p.t.Helper()
	code, h, b := p.Request("POST", "/v1/chat/completions", "application/json", []byte(ChatBody(model, stream)))
	return code, h, string(b)
}

// ProcStatus reads one field of /proc/<pid>/status, in its own unit.
func (p *Proc) ProcStatus(field string) int64 {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		p.t.Fatalf("read /proc status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			var n int64
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	p.t.Fatalf("no %s in /proc status", field)
	return 0
}

// OpenFiles counts the process's open file descriptors.
func (p *Proc) OpenFiles() int {
	p.t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Cmd.Process.Pid))
	if err != nil {
		p.t.Fatalf("read /proc fd: %v", err)
	}
	return len(ents)
}

// Breaker is a channel's breaker as GET /admin/config shows it.
type Breaker struct {
	State string `json:"state"`
	Fails int    `json:"consecutive_fails"`
}

// BreakerOf reads channel id's breaker from GET /admin/config.
func (p *Proc) BreakerOf(id string) Breaker {
	p.t.Helper()
	var all map[string][]struct {
		ID      string  `json:"id"`
		Breaker Breaker `json:"breaker"`
	}
	p.GetJSON("/admin/config", &all)
	for _, list := range all {
		for _, c := range list {
			if c.ID == id {
				return c.Breaker
			}
		}
	}
	p.t.Fatalf("channel %s not listed", id)
	return Breaker{}
}
