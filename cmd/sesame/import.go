package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/problem"
)

// importRow is one user of a CSV import.
type importRow struct {
	line   int
	user   directory.NewUser
	groups []string
}

// userImportCmd adds users in bulk from a CSV file, the way a directory
// export or a spreadsheet gives them. The whole file is checked first and
// nothing is created when any row is wrong.
func (e *env) userImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Add users from a CSV file (username,email,name,groups,admin); nothing is added if any row is wrong",
		Long: `Add users from a CSV file with a header row. Columns (any order, case
ignored): username (required), email, name, groups (names separated by
";", which must exist), admin ("yes"/"true"/"1"). Use - for standard input.

Every row is checked first: malformed values, usernames or emails that
exist already or repeat in the file, and unknown groups are all reported
with their line numbers, and then nothing is added. Issue temporary access
passes afterwards with "sesame tap issue".`,
		Args: exactArgs(1, "a CSV FILE (or -)"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			var in io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			rows, err := readImport(in)
			if err != nil {
				return err
			}
			if err := e.checkImport(cmd, a, rows); err != nil {
				return err
			}
			for _, r := range rows {
				u, err := a.Dir.CreateUser(cmd.Context(), audit.CLI, r.user)
				if err != nil {
					return fmt.Errorf("line %d: %s (the users before it were added)", r.line, errorText(err))
				}
				for _, g := range r.groups {
					if err := a.Dir.SetMember(cmd.Context(), audit.CLI, g, u.Username, true); err != nil {
						return fmt.Errorf("line %d: %s (the users before it were added)", r.line, errorText(err))
					}
				}
			}
			fmt.Fprintf(e.stdout, "Imported %d users.\n", len(rows))
			return nil
		}),
	}
}

// readImport parses the CSV; a row with the wrong number of fields, an
// unknown column or no username column is an error.
func readImport(in io.Reader) ([]importRow, error) {
	r := csv.NewReader(io.LimitReader(in, 16<<20))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: it needs a header row (username,email,name,groups,admin)")
	} else if err != nil {
		return nil, fmt.Errorf("the CSV could not be read: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "username", "email", "name", "groups", "admin":
		default:
			return nil, fmt.Errorf("line 1: unknown column %q (use username, email, name, groups, admin)", header[i])
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	if _, ok := col["username"]; !ok {
		return nil, errors.New("line 1: the header has no username column")
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []importRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("the CSV could not be read: %w", err)
		}
		row := importRow{line: line, user: directory.NewUser{
			Username: field(rec, "username"), Email: field(rec, "email"), DisplayName: field(rec, "name"),
		}}
		switch strings.ToLower(field(rec, "admin")) {
		case "", "no", "false", "0":
		case "yes", "true", "1":
			row.user.Admin = true
		default:
			return nil, fmt.Errorf("line %d: admin %q must be yes or no", line, field(rec, "admin"))
		}
		for _, g := range strings.Split(field(rec, "groups"), ";") {
			if g = strings.TrimSpace(g); g != "" {
				row.groups = append(row.groups, g)
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, errors.New("the file has a header but no users")
	}
	return rows, nil
}

// checkImport reports every problem of the file at once, so an admin can
// fix them in one go.
func (e *env) checkImport(cmd *cobra.Command, a *app.App, rows []importRow) error {
	ctx := cmd.Context()
	var problems []string
	add := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("line %d: %s", line, fmt.Sprintf(format, args...)))
	}
	seenUser, seenEmail := map[string]int{}, map[string]int{}
	knownGroups := map[string]bool{}
	for _, r := range rows {
		name, err := directory.NormalizeUsername(r.user.Username)
		if err != nil {
			add(r.line, "%s", problem.As(err).Message)
			continue
		}
		email, err := directory.NormalizeEmail(r.user.Email)
		if err != nil {
			add(r.line, "%s", problem.As(err).Message)
		}
		if prev, dup := seenUser[name]; dup {
			add(r.line, "username %s repeats line %d", name, prev)
		}
		seenUser[name] = r.line
		if email != "" {
			if prev, dup := seenEmail[email]; dup {
				add(r.line, "email %s repeats line %d", email, prev)
			}
			seenEmail[email] = r.line
		}
		if _, err := a.Dir.User(ctx, name); err == nil {
			add(r.line, "user %s exists already", name)
		} else if !errors.Is(err, directory.ErrUnknownUser) {
			return err
		}
		for _, g := range r.groups {
			if known, checked := knownGroups[g]; checked {
				if !known {
					add(r.line, "there is no group %q", g)
				}
				continue
			}
			_, err := a.Dir.Group(ctx, g)
			knownGroups[g] = err == nil
			if errors.Is(err, directory.ErrUnknownGroup) {
				add(r.line, "there is no group %q (create it with sesame group add)", g)
			} else if err != nil {
				return err
			}
		}
	}
	if existing, err := a.Store.ListUsers(ctx); err == nil {
		for _, u := range existing {
			if line, ok := seenEmail[u.Email]; ok && u.Email != "" {
				add(line, "email %s belongs to user %s already", u.Email, u.Username)
			}
		}
	} else {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("nothing was imported; fix these and run the import again:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
