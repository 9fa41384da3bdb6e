package main

// Linux /proc readers: which process listens on a port, its CPU time, its
// peak resident set, and the machine's total busy time.

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// ticksPerSecond is USER_HZ, the unit of /proc/*/stat and /proc/stat times.
// It is 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)
// would need cgo).
const ticksPerSecond = 100

// listenerPID returns the pid of the process holding a listening TCP socket
// on port (any local address, IPv4 or IPv6), or 0. It skips this process.
func listenerPID(port int) int {
	if port <= 0 || port > 65535 {
		return 0
	}
	want := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 4096), 1<<16)
		for first := true; sc.Scan(); first = false {
			if first {
				continue // header
			}
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			if i < 0 {
				continue
			}
			p, err := strconv.ParseUint(fs[1][i+1:], 16, 16)
			if err == nil && int(p) == port {
				want["socket:["+fs[9]+"]"] = true
			}
		}
		f.Close()
	}
	if len(want) == 0 {
		return 0
	}
	self := os.Getpid()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + fd.Name()); err == nil && want[link] {
				return pid
			}
		}
	}
	return 0
}

// cpuTicks returns utime+stime of pid (all its threads, living and exited)
// in ticks, and false if the process cannot be read.
func cpuTicks(pid int) (int64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fs := strings.Fields(string(b[i+1:]))
	// fs[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fs) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(fs[11], 10, 64)
	st, err2 := strconv.ParseInt(fs[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return ut + st, true
}

// statusKiB returns a "kB" field of /proc/pid/status (VmHWM, VmRSS …).
func statusKiB(pid int, field string) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			fs := strings.Fields(rest)
			if len(fs) > 0 {
				v, _ := strconv.ParseInt(fs[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// busyTicks returns the time all CPUs spent on anything but idle and iowait
// (user, nice, system, irq, softirq, steal), in ticks.
func busyTicks() (int64, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, false
	}
	fs := strings.Fields(sc.Text())
	if len(fs) < 9 || fs[0] != "cpu" {
		return 0, false
	}
	var sum int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system [idle iowait] irq softirq steal
		v, err := strconv.ParseInt(fs[i], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, true
}
