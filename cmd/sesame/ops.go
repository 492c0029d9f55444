package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// Operations commands: migrations, backups.

func (e *env) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date (serve also does this at start)",
		Long: `Bring the database schema up to date. "sesame serve" does the same at start,
so this is for deployments that migrate in a separate step. Several
instances migrating at once are safe.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := app.OpenStore(cmd.Context(), e.cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintf(e.stdout, "The %s database is up to date.\n", dbKind(e.cfg.Database))
			return nil
		},
	}
}

func (e *env) backupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the SQLite database to FILE (safe while serving)",
		Long: `Write a consistent copy of the SQLite database to FILE, which must not exist.
It is safe while the server runs. Keep secret.key (or SESAME_SECRET)
with it: without the secret, issued temporary access passes stop working.

For PostgreSQL use its own tools, e.g.:
    pg_dump --format=custom --file=sesame.dump "$SESAME_DATABASE"
    pg_restore --clean --if-exists --dbname="$SESAME_DATABASE" sesame.dump`,
		Args: exactArgs(1, "a FILE to write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.cfg.Database != "" {
				return errors.New("sesame backup copies the SQLite database; for PostgreSQL use pg_dump (see sesame backup --help)")
			}
			dest, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			if _, err := os.Stat(dest); err == nil {
				return fmt.Errorf("%s exists already: choose a new file name (a backup never overwrites)", dest)
			}
			src := filepath.Join(e.cfg.DataDir, app.DatabaseFile)
			if _, err := os.Stat(src); err != nil {
				return fmt.Errorf("no database at %s: check --data-dir", src)
			}
			st, err := sqlite.Open(cmd.Context(), src)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Backup(cmd.Context(), dest); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Backed up %s to %s. Keep %s with it.\n", src, dest, filepath.Join(e.cfg.DataDir, app.SecretFile))
			return nil
		},
	}
}

func (e *env) restoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the SQLite database with a backup (stop the server first)",
		Long: `Replace the SQLite database in --data-dir with the backup FILE. Stop the
server first. The backup is checked (opened and migrated in a scratch
copy) before anything is replaced, and the current database is kept
next to it as sesame.db.before-restore-<time>.`,
		Args: exactArgs(1, "a backup FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.cfg.Database != "" {
				return errors.New("sesame restore is for SQLite; for PostgreSQL use pg_restore (see sesame backup --help)")
			}
			return e.restore(cmd.Context(), args[0])
		},
	}
}

func (e *env) restore(ctx context.Context, src string) error {
	if err := os.MkdirAll(e.cfg.DataDir, 0o700); err != nil {
		return err
	}
	dbPath := filepath.Join(e.cfg.DataDir, app.DatabaseFile)
	scratch := dbPath + ".restoring"
	os.Remove(scratch)
	if err := copyFile(src, scratch); err != nil {
		return fmt.Errorf("cannot read the backup: %w", err)
	}
	// Opening runs the migrations: a file that is not a Sesame database,
	// or is damaged, fails here and nothing is replaced.
	st, err := sqlite.Open(ctx, scratch)
	if err == nil {
		_, err = st.CountUsers(ctx, false)
		st.Close()
	}
	if err != nil {
		os.Remove(scratch)
		return fmt.Errorf("%s is not a usable Sesame backup, nothing was changed: %w", src, err)
	}
	if _, err := os.Stat(dbPath); err == nil {
		keep := fmt.Sprintf("%s.before-restore-%s", dbPath, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(dbPath, keep); err != nil {
			os.Remove(scratch)
			return err
		}
		// The old database's WAL belongs to it, not to the restored file.
		for _, ext := range []string{"-wal", "-shm"} {
			if err := os.Rename(dbPath+ext, keep+ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "The previous database is kept as %s.\n", keep)
	}
	for _, ext := range []string{"-wal", "-shm"} {
		os.Remove(scratch + ext)
	}
	if err := os.Rename(scratch, dbPath); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Restored %s from %s.\n", dbPath, src)
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
