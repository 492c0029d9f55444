package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// run wraps a command body: it opens Sesame quietly and closes it after.
func (e *env) run(body func(cmd *cobra.Command, a *app.App, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := e.open(cmd.Context(), true)
		if err != nil {
			return err
		}
		defer a.Close()
		return body(cmd, a, args)
	}
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s needs %s (see %s --help)", cmd.CommandPath(), names, cmd.CommandPath())}
		}
		return nil
	}
}

func (e *env) table() *tabwriter.Writer {
	return tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func (e *env) userCmd() *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage users"}

	var email, name string
	var admin bool
	add := &cobra.Command{
		Use:   "add USERNAME",
		Short: "Add a user (then issue a temporary access pass so they can register a passkey)",
		Args:  exactArgs(1, "a USERNAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			u, err := a.Dir.CreateUser(cmd.Context(), audit.CLI, directory.NewUser{Username: args[0], Email: email, DisplayName: name, Admin: admin})
			if err != nil {
				return err
			}
			role := "user"
			if u.Admin {
				role = "admin"
			}
			fmt.Fprintf(e.stdout, "Added %s %s (%s). Next: sesame tap issue %s\n", role, u.Username, u.ID, u.Username)
			return nil
		}),
	}
	add.Flags().StringVar(&email, "email", "", "email address")
	add.Flags().StringVar(&name, "name", "", "display name (defaults to the username)")
	add.Flags().BoolVar(&admin, "admin", false, "make the user an administrator")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			users, err := a.Store.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			tw := e.table()
			fmt.Fprintln(tw, "USERNAME\tNAME\tEMAIL\tROLE\tSTATE\tPASSKEYS")
			for _, u := range users {
				creds, err := a.Store.ListCredentials(cmd.Context(), u.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", u.Username, u.DisplayName, dash(u.Email), role(u), state(u), len(creds))
			}
			return tw.Flush()
		}),
	}

	show := &cobra.Command{
		Use:   "show USERNAME",
		Short: "Show a user with their passkeys, pass and groups",
		Args:  exactArgs(1, "a USERNAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			ctx := cmd.Context()
			u, err := a.Dir.User(ctx, args[0])
			if err != nil {
				return err
			}
			creds, err := a.Store.ListCredentials(ctx, u.ID)
			if err != nil {
				return err
			}
			groups, err := a.Store.ListUserGroups(ctx, u.ID)
			if err != nil {
				return err
			}
			var gnames []string
			for _, g := range groups {
				gnames = append(gnames, g.Name)
			}
			tw := e.table()
			fmt.Fprintf(tw, "Username:\t%s\nID:\t%s\nName:\t%s\nEmail:\t%s\nRole:\t%s\nState:\t%s\nGroups:\t%s\nCreated:\t%s\n",
				u.Username, u.ID, u.DisplayName, dash(u.Email), role(u), state(u), dash(strings.Join(gnames, ", ")), when(u.CreatedAt))
			if t, err := a.Store.GetTAP(ctx, u.ID); err == nil {
				fmt.Fprintf(tw, "Temporary access pass:\t%s\n", tapState(t, a.Now()))
			}
			tw.Flush()
			fmt.Fprintf(e.stdout, "\nPasskeys (%d):\n", len(creds))
			tw = e.table()
			if len(creds) > 0 {
				fmt.Fprintln(tw, "  ID\tNAME\tMODEL\tTYPE\tCREATED\tLAST USED")
			}
			for _, c := range creds {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, passkey.ModelName(c.AAGUID),
					passkey.Classify(c.BackupEligible, c.BackupState).Label(), when(c.CreatedAt), when(c.LastUsedAt))
			}
			return tw.Flush()
		}),
	}

	setDisabled := func(disabled bool) func(*cobra.Command, *app.App, []string) error {
		return func(cmd *cobra.Command, a *app.App, args []string) error {
			u, err := a.Dir.SetDisabled(cmd.Context(), audit.CLI, args[0], disabled)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s is now %s.\n", u.Username, state(u))
			return nil
		}
	}
	disable := &cobra.Command{Use: "disable USERNAME", Short: "Disable a user and end their sessions", Args: exactArgs(1, "a USERNAME"), RunE: e.run(setDisabled(true))}
	enable := &cobra.Command{Use: "enable USERNAME", Short: "Enable a disabled user", Args: exactArgs(1, "a USERNAME"), RunE: e.run(setDisabled(false))}

	setAdmin := func(admin bool) func(*cobra.Command, *app.App, []string) error {
		return func(cmd *cobra.Command, a *app.App, args []string) error {
			u, err := a.Dir.SetAdmin(cmd.Context(), audit.CLI, args[0], admin)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s is now an %s.\n", u.Username, map[bool]string{true: "admin", false: "ordinary user"}[u.Admin])
			return nil
		}
	}
	grant := &cobra.Command{Use: "make-admin USERNAME", Short: "Give a user the admin role", Args: exactArgs(1, "a USERNAME"), RunE: e.run(setAdmin(true))}
	revoke := &cobra.Command{Use: "remove-admin USERNAME", Short: "Take the admin role from a user", Args: exactArgs(1, "a USERNAME"), RunE: e.run(setAdmin(false))}

	del := &cobra.Command{
		Use:   "delete USERNAME",
		Short: "Delete a user with their passkeys, pass and sessions (sign-in records stay)",
		Args:  exactArgs(1, "a USERNAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			if err := a.Dir.DeleteUser(cmd.Context(), audit.CLI, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Deleted %s.\n", strings.ToLower(args[0]))
			return nil
		}),
	}
	c.AddCommand(add, list, show, disable, enable, grant, revoke, del, e.passwordlessOnlyCmd(), e.userImportCmd())
	return c
}

func (e *env) groupCmd() *cobra.Command {
	c := &cobra.Command{Use: "group", Short: "Manage groups"}
	var desc string
	add := &cobra.Command{
		Use: "add NAME", Short: "Add a group", Args: exactArgs(1, "a group NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			g, err := a.Dir.CreateGroup(cmd.Context(), audit.CLI, args[0], desc)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Added group %s.\n", g.Name)
			return nil
		}),
	}
	add.Flags().StringVar(&desc, "description", "", "what the group is for")
	list := &cobra.Command{
		Use: "list", Short: "List groups with their members", Args: cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			groups, err := a.Store.ListGroups(cmd.Context())
			if err != nil {
				return err
			}
			tw := e.table()
			fmt.Fprintln(tw, "GROUP\tMEMBERS\tDESCRIPTION")
			for _, g := range groups {
				members, err := a.Store.ListMembers(cmd.Context(), g.ID)
				if err != nil {
					return err
				}
				var names []string
				for _, m := range members {
					names = append(names, m.Username)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Name, dash(strings.Join(names, ", ")), dash(g.Description))
			}
			return tw.Flush()
		}),
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a group (its members stay)", Args: exactArgs(1, "a group NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			if err := a.Dir.DeleteGroup(cmd.Context(), audit.CLI, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Deleted group %s.\n", args[0])
			return nil
		}),
	}
	rename := &cobra.Command{
		Use:   "rename OLD NEW",
		Short: "Rename a group, and every policy that names it",
		Long: "Rename a group. Its members stay, and the sign-in methods policy and the Conditional\n" +
			"Access policies that name the group are rewritten to the new name in the same step.",
		Args: exactArgs(2, "the OLD and the NEW group name"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			g, err := a.Dir.RenameGroup(cmd.Context(), audit.CLI, args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Renamed group %s to %s.\n", args[0], g.Name)
			return nil
		}),
	}
	member := func(in bool) func(*cobra.Command, *app.App, []string) error {
		return func(cmd *cobra.Command, a *app.App, args []string) error {
			if err := a.Dir.SetMember(cmd.Context(), audit.CLI, args[0], args[1], in); err != nil {
				return err
			}
			if in {
				fmt.Fprintf(e.stdout, "%s is a member of %s.\n", strings.ToLower(args[1]), args[0])
			} else {
				fmt.Fprintf(e.stdout, "%s is not a member of %s.\n", strings.ToLower(args[1]), args[0])
			}
			return nil
		}
	}
	addMember := &cobra.Command{Use: "add-member GROUP USERNAME", Short: "Add a user to a group", Args: exactArgs(2, "a GROUP and a USERNAME"), RunE: e.run(member(true))}
	removeMember := &cobra.Command{Use: "remove-member GROUP USERNAME", Short: "Remove a user from a group", Args: exactArgs(2, "a GROUP and a USERNAME"), RunE: e.run(member(false))}
	c.AddCommand(add, list, rename, del, addMember, removeMember)
	return c
}

func (e *env) tapCmd() *cobra.Command {
	c := &cobra.Command{Use: "tap", Short: "Temporary access passes: onboarding and lost-device recovery"}
	var lifetime string
	var oneTime bool
	issue := &cobra.Command{
		Use:   "issue USERNAME",
		Short: "Issue a temporary access pass (replaces the user's previous one); the pass is printed once, on the last line",
		Long: `Issue a temporary access pass for USERNAME. The user signs in with it at
/signin/tap and registers a passkey. The pass replaces any earlier one,
is stored only as a keyed hash, and is printed once, alone on the last
line of the output, so scripts can take it with "tail -n 1".`,
		Args: exactArgs(1, "a USERNAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			var life time.Duration
			if lifetime != "" {
				d, err := methods.ParseDuration(lifetime)
				if err != nil {
					return usageError{fmt.Errorf("--lifetime: %v", err)}
				}
				if d <= 0 {
					return usageError{fmt.Errorf("--lifetime must be positive, such as 1h or 7d")}
				}
				life = d
			}
			u, err := a.Dir.User(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			iss, err := a.TAPs.Issue(cmd.Context(), audit.CLI, u, life, oneTime)
			if err != nil {
				return err
			}
			kind := "multi-use"
			if oneTime {
				kind = "one-time"
			}
			fmt.Fprintf(e.stdout, "Temporary access pass for %s (%s), valid until %s (%s).\nThe user signs in at %s/signin/tap and registers a passkey. It is shown only now:\n%s\n",
				u.Username, kind, iss.TAP.ExpiresAt.Local().Format("2006-01-02 15:04 MST"),
				methods.HumanDuration(iss.TAP.ExpiresAt.Sub(iss.TAP.StartsAt)), e.cfg.URL, iss.Pass)
			return nil
		}),
	}
	issue.Flags().StringVar(&lifetime, "lifetime", "", "how long the pass is valid, 10m to 30d, e.g. 30m, 8h, 7d (default 1h)")
	issue.Flags().BoolVar(&oneTime, "one-time", false, "the pass works only once")
	c.AddCommand(issue)
	return c
}

func tapState(t store.TAP, now time.Time) string {
	switch methods.CheckTAP(t, now) {
	case methods.TAPExpired:
		return "expired " + when(t.ExpiresAt)
	case methods.TAPUsed:
		return "used " + when(t.UsedAt)
	case methods.TAPNotStarted:
		return "starts " + when(t.StartsAt)
	}
	return "valid until " + when(t.ExpiresAt)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func role(u store.User) string {
	if u.Admin {
		return "admin"
	}
	return "user"
}

func state(u store.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "enabled"
}
