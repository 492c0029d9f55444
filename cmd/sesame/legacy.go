package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
)

// passwordlessOnlyCmd is `sesame user passwordless-only USERNAME on|off`.
func (e *env) passwordlessOnlyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "passwordless-only USERNAME on|off",
		Short: "Make a user passwordless-only (their password and authenticator app are removed; no password works) or undo it",
		Args:  exactArgs(2, "a USERNAME and on or off"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			var on bool
			switch args[1] {
			case "on":
				on = true
			case "off":
			default:
				return usageError{fmt.Errorf("the second argument must be on or off, not %q", args[1])}
			}
			u, err := a.Dir.User(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := a.Legacy.SetPasswordlessOnly(cmd.Context(), audit.CLI, u, on); err != nil {
				return err
			}
			if on {
				fmt.Fprintf(e.stdout, "%s is now passwordless-only: their password and authenticator app are removed and no password works for them.\n", u.Username)
			} else {
				fmt.Fprintf(e.stdout, "%s is no longer passwordless-only; a password can be set where the methods policy allows it.\n", u.Username)
			}
			return nil
		}),
	}
}
