package command

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// supervisorArg, as the first argument, makes lvsd a supervisor. Run
// passes it, then the moment the timeout runs out (CLOCK_MONOTONIC, in
// nanoseconds; 0 for none), the mode, the command's path and its argv:
//
//	lvsd __supervise 5081427113380 keep /usr/local/bin/notify /usr/local/bin/notify master
//
// which is what ps shows for a command's supervisor.
const supervisorArg = "__supervise"

// Modes: what the supervisor does with what the command left running when
// it exits by itself (Options.KeepBackground).
const (
	modeKill = "kill"
	modeKeep = "keep"
)

// The supervisor's report is one line on file descriptor reportFD, written
// just before it exits, once whatever it had to kill is dead and reaped;
// the daemon reads it once the supervisor is gone.
// The exit status tells the same to a human, as timeout(1)'s does.
const (
	reportFD = 3

	reportExit    = "exit"    // exit N: the command exited with status N
	reportSignal  = "signal"  // signal N [core]: a signal killed it
	reportTimeout = "timeout" // the timeout ran out; the tree was killed
	reportStopped = "stopped" // SIGTERM (the daemon's cancel, or its death)
	reportError   = "error"   // error MESSAGE: the command did not start

	exitTimeout  = 124
	exitInternal = 125
	exitNoExec   = 126
	exitNotFound = 127
	exitStopped  = 128 + int(syscall.SIGTERM)
)

// rescan bounds the wait for a SIGCHLD while killing, after which the
// children are listed and killed again; it matters only if a kill was
// missed, so that the supervisor never waits for a child it did not kill.
const rescan = 20 * time.Millisecond

// SuperviseIfAsked must be called first in main, and in TestMain of every
// test package that runs commands. In a process that Run started as a
// supervisor it supervises the command and exits; anywhere else it returns
// at once, and allows Run.
func SuperviseIfAsked() {
	if len(os.Args) > 1 && os.Args[1] == supervisorArg {
		os.Exit(supervise(os.Args[2:]))
	}
	hooked.Store(true)
}

// supervise runs one command (args as Run passes them) and returns the
// supervisor's exit status.
//
// It starts the command in a session of its own, then reaps every child
// that dies (orphans of the command's tree come to it, as a subreaper)
// until the command itself exits, the timeout runs out, or SIGTERM comes.
// On a timeout or SIGTERM it kills the whole tree; when the command exits
// by itself it kills what is left in modeKill and leaves it in modeKeep.
// Either way it returns only when every process it killed is reaped.
func supervise(args []string) int {
	if _, err := unix.FcntlInt(reportFD, unix.F_GETFD, 0); err != nil {
		fmt.Fprintf(os.Stderr, "lvsd: %s is for lvsd's own use\n", supervisorArg)
		return exitInternal
	}
	syscall.CloseOnExec(reportFD) // the command must not hold it open
	report := os.NewFile(reportFD, "report")
	say := func(line string) { _, _ = report.WriteString(line + "\n") }

	if len(args) < 4 || (args[1] != modeKill && args[1] != modeKeep) {
		say(reportError + " bad supervisor arguments")
		return exitInternal
	}
	expiry, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		say(reportError + " bad supervisor timeout")
		return exitInternal
	}
	left := time.Duration(expiry) - monotonicNow()
	if expiry > 0 && left <= 0 {
		// The time ran out while the supervisor started.
		say(reportTimeout)
		return exitTimeout
	}
	keep, path, argv := args[1] == modeKeep, args[2], args[3:]
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		say(fmt.Sprintf("%s starting %s: PR_SET_CHILD_SUBREAPER: %v", reportError, argv[0], err))
		return exitInternal
	}
	// Both before the command starts, so that no signal is missed. The
	// handlers are reset to the default for the command by execve.
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		say(fmt.Sprintf("%s starting %s: %v", reportError, argv[0], err))
		if errors.Is(err, syscall.ENOENT) {
			return exitNotFound
		}
		return exitNoExec
	}

	var expired <-chan time.Time
	if expiry > 0 {
		t := time.NewTimer(left)
		defer t.Stop()
		expired = t.C
	}
	for {
		status, exited := reap(pid)
		if exited {
			if !keep {
				killAll(chld)
			}
			switch {
			case status.Signaled():
				line := fmt.Sprintf("%s %d", reportSignal, status.Signal())
				if status.CoreDump() {
					line += " core"
				}
				say(line)
				return 128 + int(status.Signal())
			default:
				say(fmt.Sprintf("%s %d", reportExit, status.ExitStatus()))
				return status.ExitStatus()
			}
		}
		select {
		case <-chld:
			continue
		case <-expired:
			killTree(pid, chld)
			say(reportTimeout)
			return exitTimeout
		case <-stop:
			killTree(pid, chld)
			say(reportStopped)
			return exitStopped
		}
	}
}

// reap reaps every child that has died, without blocking, and reports
// whether the command (pid) was among them, with its status.
func reap(pid int) (unix.WaitStatus, bool) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil || got == 0:
			return 0, false
		case got == pid:
			return ws, true
		}
	}
}

// killTree kills the command, still unreaped, and everything that came
// from it.
func killTree(pid int, chld <-chan os.Signal) {
	// Its process group first, in one call: that is most of a tree, and
	// the unreaped command keeps the group's ID from being reused.
	_ = unix.Kill(-pid, unix.SIGKILL)
	killAll(chld)
}

// killAll SIGKILLs every child of the supervisor, reaps them, and starts
// again with the children that killed processes left to it, until there
// is none. If the children cannot be listed it stops, having killed what
// it could.
func killAll(chld <-chan os.Signal) {
	self := os.Getpid()
	for {
		for {
			got, err := unix.Wait4(-1, nil, unix.WNOHANG|unix.WALL, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return // ECHILD: nothing is left
			}
			if got == 0 {
				break // some are alive
			}
		}
		// A child found here stays ours, and its PID unused by anyone
		// else, until this loop reaps it: killing it is safe.
		pids, err := children(self)
		if err != nil {
			return
		}
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		t := time.NewTimer(rescan)
		select {
		case <-chld:
		case <-t.C:
		}
		t.Stop()
	}
}

// children lists the processes whose parent is pid, from /proc/*/stat.
// (/proc/PID/task/TID/children would be shorter to read, but the kernel
// does not promise it complete while processes come and go, and needs
// CONFIG_PROC_CHILDREN.)
func children(parent int) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if ppid, ok := parentOf(stat); ok && ppid == parent {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// parentOf reads the parent's PID from the text of /proc/PID/stat: "PID
// (COMM) STATE PPID ...", where COMM may hold spaces and parentheses.
func parentOf(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, err == nil
}
