package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/scim"
)

func (e *env) scimCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "scim",
		Short: "SCIM 2.0 provisioning: bearer tokens for HR systems, Entra ID, Okta",
		Long: `Provisioning clients (an HR system, Entra ID, Okta) create, update, disable
and delete users and groups over SCIM 2.0 at <--url>/scim/v2, with a bearer
token. Issue one token per client, so each can be revoked alone and the
audit log names the client that made each change (actor "scim:NAME").`,
	}
	token := &cobra.Command{Use: "token", Short: "Issue, list and revoke SCIM bearer tokens"}

	issue := &cobra.Command{
		Use:   "issue NAME",
		Short: "Issue a token; it is printed once, on the last line",
		Long: `Issue a bearer token for the provisioning client NAME (letters, digits,
. _ -). The token is printed once, alone on the last line, so scripts can
take it with "tail -n 1"; Sesame keeps only its hash. If it is lost, revoke
it and issue another.`,
		Args: exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			tok, err := a.SCIMTokens.Issue(cmd.Context(), audit.CLI, args[0])
			if err != nil {
				return err
			}
			name, _ := scim.NormalizeTokenName(args[0])
			fmt.Fprintf(e.stdout, "Issued SCIM token %s.\n  SCIM base URL: %s\nThe token is shown only now; put it in the client's settings (Authorization: Bearer ...):\n%s\n",
				name, strings.TrimSuffix(a.Config.URL, "/")+scim.Prefix, tok)
			return nil
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (names and dates; tokens themselves are never shown again)",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			toks, err := a.SCIMTokens.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := e.table()
			fmt.Fprintln(tw, "NAME\tISSUED BY\tISSUED")
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.CreatedBy, when(t.CreatedAt))
			}
			return tw.Flush()
		}),
	}
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: the client's next request is refused",
		Args:  exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			if err := a.SCIMTokens.Revoke(cmd.Context(), audit.CLI, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Revoked SCIM token %s.\n", strings.ToLower(strings.TrimSpace(args[0])))
			return nil
		}),
	}
	token.AddCommand(issue, list, revoke)
	c.AddCommand(token)
	return c
}
