package main

// Tests of the command line and of start-up, against the built binary:
// what --help, --version and stray arguments do, where the admin key comes
// from, .env mistakes, and `make run` ended with Ctrl-C.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"catfish/engine"
	"catfish/engine/enginetest"
)

// runCatfish runs the binary in dir with exactly env (plus PATH) and the
// given arguments, and returns its exit code and output. It must end by
// itself within 20 s: a command that starts a server instead fails the
// test. LISTEN keeps such a server off port 8080 and other interfaces.
func runCatfish(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, enginetest.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LISTEN=127.0.0.1:0"}, env...)
	var out, errOut enginetest.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("catfish %q still running after 20 s (it started a server?):\n%s%s", args, out.String(), errOut.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("catfish %q: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// writeFile writes content to path or fails the test.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// noData fails the test when dir holds a ./data folder.
func noData(t *testing.T, dir string, args []string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("catfish %q created ./data (or Stat failed: %v)", args, err)
	}
}

// `catfish --help` and `-h` started a real server on all interfaces and
// created ./data. They print the usage, with every setting, and exit 0.
func TestHelpPrintsUsageAndStartsNothing(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		t.Run(args[0], func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runCatfish(t, dir, nil, args...)
			if code != 0 || stderr != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			for _, want := range []string{
				"Usage: catfish [command]", "\n  version ", "\n  healthcheck ", "\n  help ",
				"\n  ADMIN_KEY (default: generated)\n", "\n  FIRST_BYTE_TIMEOUT (default: 90)\n",
				"\n  RETRY_AFTER_OPEN_MAX (default: 1h)\n", "\n  CONTINUATION (default: on)\n",
				"\n  CLIENT_KEYS_ONLY (default: false)\n", "\n  HTTPS_PROXY (default: none)\n",
				engine.SettingsHelp(),
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("the usage lacks %q:\n%s", want, stdout)
				}
			}
			if strings.Contains(stdout, "catfish listening") {
				t.Errorf("catfish %q started a server:\n%s", args, stdout)
			}
			noData(t, dir, args)
		})
	}
}

// `catfish -v` started a server too. -v, --version and version print
// "catfish <version>" and exit 0.
func TestVersionFlagsPrintTheVersion(t *testing.T) {
	for _, args := range [][]string{{"-v"}, {"--version"}, {"version"}} {
		t.Run(args[0], func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runCatfish(t, dir, nil, args...)
			if code != 0 || stderr != "" || !regexp.MustCompile(`^catfish \S+\n$`).MatchString(stdout) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0, \"catfish <version>\\n\" and nothing", code, stdout, stderr)
			}
			noData(t, dir, args)
		})
	}
}

// Anything else on the command line is a mistake: the usage on stderr,
// exit 2, no server, no ./data.
func TestUnknownArgumentsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"}, {"-x"}, {"serve"}, {"--port=9000"}, {""},
		{"version", "extra"}, {"--help", "me"}, {"healthcheck", "now"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runCatfish(t, dir, []string{"ADMIN_KEY=" + enginetest.AdminKey}, args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, "Usage: catfish [command]") {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant 2, nothing, and the usage", code, stdout, stderr)
			}
			noData(t, dir, args)
		})
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "e4a82f5e9c368a5b8d292b431355a4602462f54f"
	for _, tt := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"go install of a tag", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: settings("vcs.revision", rev)}, "v1.4.0"},
		{"go build in a checkout (pseudo-version)", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203034245-e4a82f5e9c36+dirty"}}, "v0.0.0-20261203034245-e4a82f5e9c36+dirty"},
		{"devel with a clean commit", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", rev, "vcs.modified", "false")}, "e4a82f5e9c36"},
		{"devel with changes", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "true")}, "e4a82f5e9c36-dirty"},
		{"short revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", "abc")}, "abc"},
		{"no version control", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("-buildmode", "exe")}, "dev"},
		{"nothing at all", debug.BuildInfo{}, "dev"},
	} {
		if got := versionFrom(&tt.info); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A plain `go build` printed "catfish dev" whatever it was built from:
// the binary names what the toolchain recorded in it (go version -m), and
// a stamped version wins.
func TestVersionOfABuild(t *testing.T) {
	bin := enginetest.Binary(t)
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	info := &debug.BuildInfo{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[0] == "mod":
			info.Main.Version = f[2]
		case len(f) >= 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			info.Settings = append(info.Settings, debug.BuildSetting{Key: k, Value: v})
		}
	}
	_, stdout, _ := runCatfish(t, t.TempDir(), nil, "version")
	if want := "catfish " + versionFrom(info) + "\n"; stdout != want {
		t.Errorf("got %q, want %q (from go version -m:\n%s)", stdout, want, out)
	}

	stamped := filepath.Join(t.TempDir(), "catfish")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=v9.8.7", "-o", stamped, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(stamped, "--version").Output(); err != nil || string(out) != "catfish v9.8.7\n" {
		t.Errorf("stamped build: got %q, %v; want \"catfish v9.8.7\\n\"", out, err)
	}
}

// startCatfishIn runs the binary in workDir (where it reads .env) with
// exactly env (plus PATH; LISTEN defaults to 127.0.0.1:0) and waits until
// it listens, in either log format.
func startCatfishIn(t *testing.T, workDir, dataDir string, env ...string) *enginetest.Proc {
	t.Helper()
	return enginetest.Launch{Dir: workDir, DataDir: dataDir, Env: env, Bare: true}.Start(t)
}

// status sends GET path to s with key and returns the status code.
func status(t *testing.T, s *enginetest.Proc, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The start-up log did not say where the admin key came from, so a key
// from an old .env or a forgotten data/admin_key was a mystery. It says
// so now, and never shows the key but the one time it is generated.
func TestStartupSaysWhereTheAdminKeyCameFrom(t *testing.T) {
	const dotKey = "dotenv-admin-key-0123456789abcdef"
	for _, tt := range []struct {
		name   string
		env    []string
		dotenv string
		key    string
		source string
	}{
		{"environment", []string{"ADMIN_KEY=" + enginetest.AdminKey}, "", enginetest.AdminKey, "environment"},
		{"environment over .env", []string{"ADMIN_KEY=" + enginetest.AdminKey}, "ADMIN_KEY=" + dotKey + "\n", enginetest.AdminKey, "environment"},
		{".env", nil, "ADMIN_KEY=" + dotKey + "\n", dotKey, ".env"},
		{".env, quoted with a comment", nil, `ADMIN_KEY="` + dotKey + `" # the key` + "\n", dotKey, ".env"},
		// An empty ADMIN_KEY= in the environment beat .env: the .env key
		// was ignored and a new one generated into data/admin_key.
		{"empty environment falls through to .env", []string{"ADMIN_KEY="}, "ADMIN_KEY=" + dotKey + "\n", dotKey, ".env"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			work, data := t.TempDir(), t.TempDir()
			if tt.dotenv != "" {
				writeFile(t, filepath.Join(work, ".env"), tt.dotenv)
			}
			s := startCatfishIn(t, work, data, tt.env...)
			if got := status(t, s, "/admin/config", tt.key); got != 200 {
				t.Errorf("GET /admin/config with the %s key: %d, want 200", tt.source, got)
			}
			if _, err := os.Stat(filepath.Join(data, "admin_key")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data/admin_key was generated although a key was configured (%v)", err)
			}
			out := s.Out.String()
			if want := `msg="admin key" source=` + logValue(tt.source); !strings.Contains(out, want) {
				t.Errorf("the log does not say %s:\n%s", want, out)
			}
			if strings.Contains(out, tt.key) {
				t.Errorf("the log shows the key:\n%s", out)
			}
		})
	}
}

// logValue quotes v as slog's text handler does when it needs quoting.
func logValue(v string) string {
	if strings.ContainsAny(v, " \"=") {
		b, _ := json.Marshal(v)
		return string(b)
	}
	return v
}

// A generated key is shown once, then read back from its file on restart
// and never shown again; the log names the file each time.
func TestGeneratedAdminKeyShownOnce(t *testing.T) {
	work, data := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(data, "admin_key")
	s := startCatfishIn(t, work, data)
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("no generated key: %v", err)
	}
	key := strings.TrimSpace(string(b))
	out := s.Out.String()
	if n := strings.Count(out, key); n != 1 {
		t.Errorf("the generated key appears %d times in the log, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "\n    ADMIN_KEY="+key+"\n") {
		t.Errorf("no ADMIN_KEY= banner:\n%s", out)
	}
	if want := `msg="admin key" source="generated file ` + keyFile + `"`; !strings.Contains(out, want) {
		t.Errorf("the log does not say %s:\n%s", want, out)
	}
	if got := status(t, s, "/admin/config", key); got != 200 {
		t.Errorf("GET /admin/config with the generated key: %d, want 200", got)
	}
	if code, _ := s.Stop(20 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}

	s = startCatfishIn(t, work, data)
	out = s.Out.String()
	if strings.Contains(out, key) {
		t.Errorf("the key is shown again on restart:\n%s", out)
	}
	if want := `msg="admin key" source="file ` + keyFile + `"`; !strings.Contains(out, want) {
		t.Errorf("the log does not say %s:\n%s", want, out)
	}
}

// With LOG_FORMAT=json the generated key came as a plain-text banner
// among the JSON lines, which log collectors choke on. It is one JSON
// record carrying the key, and every line is JSON.
func TestGeneratedAdminKeyIsJSONInJSONLogs(t *testing.T) {
	work, data := t.TempDir(), t.TempDir()
	s := startCatfishIn(t, work, data, "LOG_FORMAT=json")
	b, err := os.ReadFile(filepath.Join(data, "admin_key"))
	if err != nil {
		t.Fatalf("no generated key: %v", err)
	}
	key := strings.TrimSpace(string(b))
	out := s.Out.String()
	if n := strings.Count(out, key); n != 1 {
		t.Errorf("the generated key appears %d times in the log, want once:\n%s", n, out)
	}
	var withKey, source int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON log line: %q", line)
			continue
		}
		if rec["admin_key"] == key {
			withKey++
			if rec["level"] != "WARN" || rec["msg"] == "" || rec["time"] == nil {
				t.Errorf("the key's record is not a proper log record: %s", line)
			}
		}
		if rec["msg"] == "admin key" && rec["source"] == "generated file "+filepath.Join(data, "admin_key") {
			source++
		}
	}
	if withKey != 1 || source != 1 {
		t.Errorf("got %d records with the key and %d naming its source, want 1 and 1:\n%s", withKey, source, out)
	}
}

// A short ADMIN_KEY on a server open to every interface is a warning at
// start; on loopback, or a long key, it is not.
func TestWeakAdminKeyWarning(t *testing.T) {
	const warning = "ADMIN_KEY is shorter than 16 characters"
	for _, tt := range []struct {
		name, key, listen string
		warn              bool
	}{
		{"short key on all interfaces", "change-me", "0.0.0.0:0", true},
		{"short key, no host", "change-me", ":0", true},
		{"15 characters", "123456789012345", "0.0.0.0:0", true},
		{"16 characters", "1234567890123456", "0.0.0.0:0", false},
		{"short key on loopback", "change-me", "127.0.0.1:0", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startCatfishIn(t, t.TempDir(), t.TempDir(), "ADMIN_KEY="+tt.key, "LISTEN="+tt.listen)
			out := s.Out.String()
			if strings.Contains(out, warning) != tt.warn {
				t.Errorf("warning shown: %v, want %v:\n%s", !tt.warn, tt.warn, out)
			}
			if strings.Contains(out, tt.key) {
				t.Errorf("the log shows the key:\n%s", out)
			}
		})
	}
}

// ADMIN_KEY="abc (no closing quote) became the key `"abc`. It stops
// start-up with exit 2 and a message naming .env:line, not the value.
func TestDotEnvUnterminatedQuoteStopsStartup(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "PORT=9000\nADMIN_KEY=\"sk-never-closed\n")
	code, stdout, stderr := runCatfish(t, dir, nil)
	if code != 2 || !strings.Contains(stderr, ".env:2: ADMIN_KEY") {
		t.Errorf("exit %d, stderr %q; want 2 and a message naming .env:2 and ADMIN_KEY", code, stderr)
	}
	if strings.Contains(stdout+stderr, "sk-never-closed") {
		t.Errorf("the message shows the value: %s", stderr)
	}
	noData(t, dir, nil)
}

// A typo in .env (FIRST_BYTE_TIMOUT) was silently ignored. It is a
// start-up warning naming the line and the setting meant; the server
// starts all the same.
func TestDotEnvUnknownNameWarns(t *testing.T) {
	work := t.TempDir()
	writeFile(t, filepath.Join(work, ".env"), "ADMIN_KEY="+enginetest.AdminKey+"\n\nFIRST_BYTE_TIMOUT=5\nOTHER_APP_TOKEN=x\n")
	s := startCatfishIn(t, work, t.TempDir())
	out := s.Out.String()
	for _, want := range []string{
		`.env:3: FIRST_BYTE_TIMOUT is not a catfish setting and is ignored; did you mean FIRST_BYTE_TIMEOUT?`,
		`.env:4: OTHER_APP_TOKEN is not a catfish setting and is ignored`,
	} {
		if !strings.Contains(out, "level=WARN msg="+logValue(want)) && !strings.Contains(out, want) {
			t.Errorf("no warning %q:\n%s", want, out)
		}
	}
}

// `make run` ended with Ctrl-C printed "make: *** [Makefile:10: run]
// Interrupt" (or "Error 1"): go run stood between make and the server.
// Ctrl-C in a terminal sends SIGINT to the whole foreground process
// group; here make runs in a group of its own and the test signals that
// group. The server must stop cleanly, and make must not report an error.
//
// GNU make, having received SIGINT itself, still ends by re-raising it
// (that is how a shell learns the user interrupted): the shell prints
// nothing for it. So make's own status is 0 or "killed by SIGINT".
func TestMakeRunStopsCleanlyOnInterrupt(t *testing.T) {
	slowTest(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Env = append(os.Environ(), "LISTEN=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "ADMIN_KEY="+enginetest.AdminKey, "LOG_FORMAT=text", "MAKEFLAGS=", "MAKELEVEL=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &enginetest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var err error
	done := make(chan struct{})
	go func() { err = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("make run output:\n%s", out.String())
		}
	})
	enginetest.WaitFor(t, 3*time.Minute, "make run listening", func() bool { // make run builds first
		_, ok := enginetest.Listening(out.String())
		return ok
	})
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // what Ctrl-C does
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("make run still running 30 s after SIGINT")
	}
	output := out.String()
	if strings.Contains(output, "make: ***") || strings.Contains(output, "make[") {
		t.Errorf("make reported an error:\n%s", output)
	}
	if !strings.Contains(output, "msg=stopped") {
		t.Errorf("the server did not stop cleanly:\n%s", output)
	}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
		t.Errorf("make run: %v, want exit 0 (or make re-raising SIGINT)", err)
	}
}
