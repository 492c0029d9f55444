package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/oidc"
)

// provider is the OpenID provider of an opened Sesame, or a clear error.
func provider(a *app.App) (*oidc.Provider, error) {
	if a.OIDC == nil {
		return nil, errors.New("this database backend does not support apps (OpenID Connect) yet")
	}
	return a.OIDC, nil
}

func (e *env) appCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "app",
		Short: "Apps that sign people in through Sesame (OpenID Connect clients)",
		Long: `Apps (Grafana, Nextcloud, GitLab, anything behind oauth2-proxy, your own)
sign people in through Sesame with OpenID Connect. Register each one with
"sesame app add", then configure the app with the issuer (the --url of
Sesame), the client ID and, for a confidential app, the client secret.`,
	}

	var redirects, postLogout []string
	var public, rs256, allowMissingPKCE bool
	var strength, backchannel string
	var samlMetadata, samlACS, samlEntity, nameIDFormat string
	add := &cobra.Command{
		Use:   "add NAME --redirect-uri URI [--redirect-uri URI ...] | --saml-metadata FILE|URL | --saml-acs URL --saml-entity-id ID",
		Short: "Register an app; its client secret is printed once, on the last line",
		Long: `Register an app. NAME becomes its client ID (lower-case letters, digits,
dots, dashes, underscores). Redirect URIs are matched exactly, so give each
one exactly as the app sends it; https is required except on localhost.

A confidential app (the default: it has a server that keeps a secret) gets a
client secret, printed once, alone on the last line, so scripts can take it
with "tail -n 1". Sesame keeps only its hash: if it is lost, use
"sesame app rotate-secret". A --public app (single-page or native) has no
secret. Every app must send PKCE (S256) unless --allow-missing-pkce exempts
a confidential one that cannot.

A SAML 2.0 service provider is registered with --saml-metadata (a file, or
an https:// URL Sesame fetches now and again daily; see app refresh) or with
--saml-acs and --saml-entity-id;
--nameid-format picks email (default) or persistent NameIDs.`,
		Args: exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			if samlMetadata != "" || samlACS != "" || samlEntity != "" {
				if len(redirects) > 0 || len(postLogout) > 0 || public || rs256 || allowMissingPKCE || backchannel != "" {
					return errors.New("a SAML app takes --saml-metadata or --saml-acs with --saml-entity-id, not OpenID Connect flags (--redirect-uri, --public, --rs256, --allow-missing-pkce, --backchannel-logout-uri)")
				}
				return e.addSAMLApp(cmd, a, args[0], samlMetadata, samlACS, samlEntity, nameIDFormat, strength)
			}
			if nameIDFormat != "" {
				return errors.New("--nameid-format is for SAML apps (with --saml-metadata or --saml-acs)")
			}
			p, err := provider(a)
			if err != nil {
				return err
			}
			alg := oidc.ES256
			if rs256 {
				alg = oidc.RS256
			}
			added, secret, err := p.AddApp(cmd.Context(), audit.CLI, oidc.NewApp{Name: args[0], RedirectURIs: redirects,
				PostLogoutRedirectURIs: postLogout, Public: public, SigningAlg: alg, RequiredStrength: strength,
				AllowMissingPKCE: allowMissingPKCE, BackchannelLogoutURI: backchannel})
			if err != nil {
				return err
			}
			kind := "confidential, PKCE required"
			if added.Public {
				kind = "public, PKCE required"
			} else if added.AllowMissingPKCE {
				kind = "confidential, PKCE NOT required"
			}
			ep := p.Endpoints()
			fmt.Fprintf(e.stdout, "Added app %s (%s, ID tokens signed with %s).\n", added.ClientID, kind, added.SigningAlg)
			fmt.Fprintf(e.stdout, "  Issuer:     %s\n  Discovery:  %s\n  Client ID:  %s\n", ep.Issuer, ep.Discovery, added.ClientID)
			if secret != "" {
				fmt.Fprintf(e.stdout, "The client secret is shown only now; put it in the app's settings:\n%s\n", secret)
			}
			return nil
		}),
	}
	add.Flags().StringArrayVar(&redirects, "redirect-uri", nil, "where Sesame may send the browser back with a code (repeatable; matched exactly)")
	add.Flags().StringArrayVar(&postLogout, "post-logout-redirect-uri", nil, "where Sesame may send the browser after the app signs the user out (repeatable)")
	add.Flags().BoolVar(&public, "public", false, "a single-page or native app that cannot keep a secret (PKCE required, no secret)")
	add.Flags().BoolVar(&rs256, "rs256", false, "sign this app's tokens with RS256 instead of ES256 (for apps that cannot verify ES256)")
	add.Flags().BoolVar(&allowMissingPKCE, "allow-missing-pkce", false, "exempt this confidential app from PKCE (only for an app that cannot send it)")
	add.Flags().StringVar(&backchannel, "backchannel-logout-uri", "", "where the app receives OpenID Connect back-channel logout tokens (https, or http on localhost)")
	add.Flags().StringVar(&samlMetadata, "saml-metadata", "", "register a SAML service provider from its metadata: a file, or an https:// URL")
	add.Flags().StringVar(&samlACS, "saml-acs", "", "register a SAML service provider by its assertion consumer service URL (with --saml-entity-id)")
	add.Flags().StringVar(&samlEntity, "saml-entity-id", "", "the SAML service provider's entity ID (with --saml-acs)")
	add.Flags().StringVar(&nameIDFormat, "nameid-format", "", "SAML NameID: email (default) or persistent")
	add.Flags().StringVar(&strength, "strength", "", "authentication strength every sign-in to the app must meet: mfa, passwordless-mfa, phishing-resistant-mfa or phishing-resistant-mfa-device-bound")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the registered apps",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			apps, err := p.ListApps(cmd.Context())
			if err != nil {
				return err
			}
			tw := e.table()
			fmt.Fprintln(tw, "CLIENT ID\tTYPE\tALG\tREDIRECT URIS\tCREATED")
			for _, ap := range apps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ap.ClientID, appKind(ap), ap.SigningAlg, strings.Join(ap.RedirectURIs, " "), when(ap.CreatedAt))
			}
			if a.SAML != nil {
				sapps, err := a.SAML.ListApps(cmd.Context())
				if err != nil {
					return err
				}
				for _, ap := range sapps {
					fmt.Fprintf(tw, "%s\tsaml\t-\t%s\t%s\n", ap.Name, strings.Join(ap.ACSURLs, " "), when(ap.CreatedAt))
				}
			}
			return tw.Flush()
		}),
	}

	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an app and the settings it needs",
		Args:  exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			ap, err := p.App(cmd.Context(), args[0])
			if unknownOIDCApp(err) && a.SAML != nil {
				return e.showSAMLApp(cmd, a, args[0])
			}
			if err != nil {
				return err
			}
			ep := p.Endpoints()
			tw := e.table()
			fmt.Fprintf(tw, "Client ID:\t%s\n", ap.ClientID)
			fmt.Fprintf(tw, "Type:\t%s\n", appKind(ap))
			fmt.Fprintf(tw, "Signing:\t%s\n", ap.SigningAlg)
			fmt.Fprintf(tw, "Required strength (acr):\t%s\n", dash(ap.RequiredACR))
			fmt.Fprintf(tw, "PKCE:\t%s\n", pkceText(ap))
			fmt.Fprintf(tw, "Back-channel logout URI:\t%s\n", dash(ap.BackchannelLogoutURI))
			for _, u := range ap.RedirectURIs {
				fmt.Fprintf(tw, "Redirect URI:\t%s\n", u)
			}
			for _, u := range ap.PostLogoutRedirectURIs {
				fmt.Fprintf(tw, "Post-logout URI:\t%s\n", u)
			}
			fmt.Fprintf(tw, "Created:\t%s\n", when(ap.CreatedAt))
			fmt.Fprintf(tw, "Issuer:\t%s\n", ep.Issuer)
			fmt.Fprintf(tw, "Discovery:\t%s\n", ep.Discovery)
			fmt.Fprintf(tw, "Authorization endpoint:\t%s\n", ep.Authorization)
			fmt.Fprintf(tw, "Token endpoint:\t%s\n", ep.Token)
			fmt.Fprintf(tw, "Userinfo endpoint:\t%s\n", ep.UserInfo)
			fmt.Fprintf(tw, "JWKS:\t%s\n", ep.JWKS)
			fmt.Fprintf(tw, "End session endpoint:\t%s\n", ep.EndSession)
			return tw.Flush()
		}),
	}

	setStrength := &cobra.Command{
		Use:   "set-strength NAME STRENGTH",
		Short: "Require an authentication strength of every sign-in to the app (mfa, passwordless-mfa, phishing-resistant-mfa, phishing-resistant-mfa-device-bound, or none)",
		Args:  exactArgs(2, "a NAME and a STRENGTH"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			ap, err := p.SetRequiredStrength(cmd.Context(), audit.CLI, args[0], args[1])
			if unknownOIDCApp(err) && a.SAML != nil {
				sa, serr := a.SAML.SetRequiredStrength(cmd.Context(), audit.CLI, args[0], args[1])
				if serr != nil {
					return serr
				}
				ap = oidc.App{ClientID: sa.Name, RequiredACR: sa.RequiredACR}
				err = nil
			}
			if err != nil {
				return err
			}
			if ap.RequiredACR == "" {
				fmt.Fprintf(e.stdout, "%s requires no particular strength.\n", ap.ClientID)
			} else {
				fmt.Fprintf(e.stdout, "Every sign-in to %s must now meet acr %s; weaker sessions sign in again.\n", ap.ClientID, ap.RequiredACR)
			}
			return nil
		}),
	}

	var setPKCE, setBackchannel string
	set := &cobra.Command{
		Use:   "set NAME [--allow-missing-pkce=true|false] [--backchannel-logout-uri URL]",
		Short: "Change an app's PKCE exemption or back-channel logout URI",
		Long: `Change an app's settings. Only the flags given change.

--allow-missing-pkce=true exempts a confidential app that cannot send PKCE
from the rule that every authorization request carries an S256
code_challenge (RFC 9700); public apps cannot be exempted.
--backchannel-logout-uri URL (or "" to remove it) is where the app receives
logout tokens when a user signs out, is disabled or deleted.`,
		Args: exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			var in oidc.AppSettings
			if cmd.Flags().Changed("allow-missing-pkce") {
				v, err := strconv.ParseBool(setPKCE)
				if err != nil {
					return usageError{fmt.Errorf("--allow-missing-pkce takes true or false, not %q", setPKCE)}
				}
				in.AllowMissingPKCE = &v
			}
			if cmd.Flags().Changed("backchannel-logout-uri") {
				in.BackchannelLogoutURI = &setBackchannel
			}
			if in.AllowMissingPKCE == nil && in.BackchannelLogoutURI == nil {
				return usageError{errors.New("nothing to change: give --allow-missing-pkce or --backchannel-logout-uri")}
			}
			ap, err := p.SetApp(cmd.Context(), audit.CLI, args[0], in)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: PKCE %s; back-channel logout URI %s.\n", ap.ClientID, pkceText(ap), dash(ap.BackchannelLogoutURI))
			return nil
		}),
	}
	set.Flags().StringVar(&setPKCE, "allow-missing-pkce", "", "true exempts this confidential app from PKCE; false requires it again")
	set.Flags().StringVar(&setBackchannel, "backchannel-logout-uri", "", `where the app receives back-channel logout tokens ("" removes it)`)

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an app; its tokens stop working at once",
		Args:  exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			err = p.DeleteApp(cmd.Context(), audit.CLI, args[0])
			if unknownOIDCApp(err) && a.SAML != nil {
				if err := a.SAML.DeleteApp(cmd.Context(), audit.CLI, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Deleted SAML app %s.\n", args[0])
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Deleted app %s and revoked its tokens.\n", args[0])
			return nil
		}),
	}

	rotate := &cobra.Command{
		Use:   "rotate-secret NAME",
		Short: "Give a confidential app a new client secret (printed once, on the last line); the old one stops working",
		Args:  exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			secret, err := p.RotateAppSecret(cmd.Context(), audit.CLI, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "New client secret for %s; the old one no longer works. It is shown only now:\n%s\n", args[0], secret)
			return nil
		}),
	}
	c.AddCommand(add, list, show, set, setStrength, del, rotate, e.appRefreshCmd())
	return c
}

func pkceText(a oidc.App) string {
	if a.AllowMissingPKCE {
		return "NOT required (exempted: this app may sign in without PKCE)"
	}
	return "required (S256)"
}

func appKind(a oidc.App) string {
	if a.Public {
		return "public"
	}
	return "confidential"
}

func (e *env) keysCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "The keys that sign ID and access tokens",
		Long: `Sesame signs tokens with ES256 keys (and RS256 for apps registered with
--rs256), stored encrypted with the server secret. Each algorithm has a
current key, which signs, and a next key, published in the JWKS (/oauth2/keys)
from the moment it is made but signing nothing yet. Every 30 days the next key
takes over; the key it replaces is retired but stays published until the
tokens it signed have expired, and a new next key is published. So an app
that caches the JWKS (Sesame allows 5 minutes) never meets an unknown key.`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys and their state",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			keys, err := p.Keys(cmd.Context())
			if err != nil {
				return err
			}
			tw := e.table()
			fmt.Fprintln(tw, "KEY ID\tALG\tSTATE\tSIGNS FROM\tPUBLISHED UNTIL")
			for _, k := range keys {
				until := "-"
				if !k.PublishedUntil.IsZero() {
					until = when(k.PublishedUntil)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, when(k.NotBefore), until)
			}
			return tw.Flush()
		}),
	}
	var alg string
	var immediately, dropOld bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Promote the next signing key now instead of waiting for the schedule",
		Long: `Promote the next key, which is already published. It starts signing once
every Sesame instance has seen the change and it has been in the JWKS for at
least 6 minutes (longer than apps may cache the JWKS); the current key is
retired and stays published until the tokens it signed have expired, and a
new next key is published.

--immediately makes the next key sign at once.

If a key may have leaked, use --immediately --drop-old: every key of the
algorithm is replaced by a new one that signs at once and the old keys leave
the JWKS, so tokens they signed stop verifying and people sign in to apps
again.`,
		Args: cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			p, err := provider(a)
			if err != nil {
				return err
			}
			if dropOld && !immediately {
				return usageError{errors.New("--drop-old needs --immediately: without it, nothing would sign until the new key takes over")}
			}
			k, err := p.RotateKey(cmd.Context(), strings.ToUpper(alg), immediately, dropOld)
			if err != nil {
				return err
			}
			if dropOld {
				fmt.Fprintf(e.stdout, "New %s key %s signs from %s.\n", k.Algorithm, k.ID, when(k.NotBefore))
			} else {
				fmt.Fprintf(e.stdout, "The next %s key %s signs from %s; the current key is retired then.\n", k.Algorithm, k.ID, when(k.NotBefore))
			}
			if dropOld {
				fmt.Fprintln(e.stdout, "The previous keys were removed: tokens they signed no longer verify.")
			}
			return nil
		}),
	}
	rotate.Flags().StringVar(&alg, "alg", oidc.ES256, "algorithm of the key to replace: ES256 or RS256")
	rotate.Flags().BoolVar(&immediately, "immediately", false, "the next key signs at once (a server may sign with the old one for up to 30 seconds more)")
	rotate.Flags().BoolVar(&dropOld, "drop-old", false, "with --immediately: remove the old keys of the algorithm from the JWKS now")
	c.AddCommand(list, rotate)
	return c
}
