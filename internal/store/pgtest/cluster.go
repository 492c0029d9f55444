package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Cluster is a throwaway PostgreSQL server of one test's own, for tests
// that must stop and start the database (fault tests). Tests that only need
// a database use Schema on SESAME_TEST_POSTGRES instead.
type Cluster struct {
	URL  string // postgres://sesame@127.0.0.1:PORT/sesame?sslmode=disable
	bin  string
	data string
	log  string
	port int
	run  func(args ...string) *exec.Cmd // runs a program as the cluster's owner
}

// BinDir finds the server programs (initdb, pg_ctl, createdb): Debian
// keeps them in /usr/lib/postgresql/<version>/bin (the newest is taken),
// elsewhere they are on PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if hasPrograms(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && hasPrograms(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no initdb/pg_ctl/createdb (install Debian's postgresql package)")
}

func hasPrograms(dir string) bool {
	for _, p := range []string{"initdb", "pg_ctl", "createdb"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// StartCluster creates and starts a cluster on a free loopback port. It is
// stopped and removed when the test ends. Without the PostgreSQL server
// programs the test is skipped, or fails under CI=true.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %v", err)
		}
		t.Skip(err.Error())
	}
	// Unix socket paths are short: keep the directory under /tmp.
	dir, err := os.MkdirTemp("/tmp", "sesame-pgc-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{bin: bin, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "postgres.log")}
	c.run = func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		return cmd
	}
	// initdb refuses to run as root: the cluster then belongs to a system
	// user.
	if os.Geteuid() == 0 {
		owner := "postgres"
		if _, err := user.Lookup(owner); err != nil {
			owner = "nobody"
		}
		u, _ := user.Lookup(owner)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.run = func(args ...string) *exec.Cmd {
			cmd := exec.Command("runuser", append([]string{"-u", owner, "--"}, args...)...)
			cmd.Dir = dir
			return cmd
		}
	}
	t.Cleanup(func() {
		c.run(filepath.Join(bin, "pg_ctl"), "-D", c.data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(dir)
	})
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "sesame", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.port = freePort(t)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run(filepath.Join(bin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "sesame", "sesame").CombinedOutput(); err != nil {
		t.Fatalf("createdb: %v\n%s", err, out)
	}
	c.URL = fmt.Sprintf("postgres://sesame@127.0.0.1:%d/sesame?sslmode=disable", c.port)
	return c
}

// Start starts the server (again) on its port and waits until it accepts
// connections.
func (c *Cluster) Start() error {
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.data, "-l", c.log, "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.port, filepath.Dir(c.data)),
		"start").CombinedOutput()
	if err != nil {
		logText, _ := os.ReadFile(c.log)
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, logText)
	}
	return nil
}

// Stop stops the server at once, as a crash or a restart would, dropping
// every connection.
func (c *Cluster) Stop() error {
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.data, "-m", "immediate", "-w", "-t", "60", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
