package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/samlidp"
)

// addSAMLApp registers a SAML service provider: from a metadata file or
// URL, or from an ACS URL and entity ID.
func (e *env) addSAMLApp(cmd *cobra.Command, a *app.App, name, metadata, acs, entity, format, strength string) error {
	if a.SAML == nil {
		return errors.New("this database backend does not support SAML apps")
	}
	in := samlidp.NewApp{Name: name, ACSURL: acs, EntityID: entity, NameIDFormat: format, RequiredStrength: strength}
	switch {
	case strings.HasPrefix(metadata, "https://") || strings.HasPrefix(metadata, "http://"):
		in.MetadataURL = metadata
	case metadata != "":
		b, err := os.ReadFile(metadata)
		if err != nil {
			return fmt.Errorf("cannot read the SAML metadata file: %w", err)
		}
		in.Metadata = b
	}
	added, err := a.SAML.AddApp(cmd.Context(), audit.CLI, in)
	if err != nil {
		return err
	}
	ep := a.SAML.Endpoints()
	fmt.Fprintf(e.stdout, "Added SAML app %s (entity ID %s, NameID %s).\n", added.Name, added.EntityID, added.NameIDFormat)
	fmt.Fprintf(e.stdout, "  IdP metadata (and entity ID): %s\n  SSO: %s\n  SLO: %s\n  IdP-initiated: %s/saml/idp/%s\n",
		ep.Metadata, ep.SSO, ep.SLO, strings.TrimSuffix(ep.SSO, samlidp.PathSSO), added.Name)
	return nil
}

func (e *env) showSAMLApp(cmd *cobra.Command, a *app.App, name string) error {
	ap, err := a.SAML.App(cmd.Context(), name)
	if err != nil {
		return err
	}
	ep := a.SAML.Endpoints()
	tw := e.table()
	fmt.Fprintf(tw, "Name:\t%s\n", ap.Name)
	fmt.Fprintf(tw, "Type:\tSAML 2.0 service provider\n")
	fmt.Fprintf(tw, "Entity ID:\t%s\n", ap.EntityID)
	for _, u := range ap.ACSURLs {
		fmt.Fprintf(tw, "ACS:\t%s\n", u)
	}
	for _, u := range ap.SLOURLs {
		fmt.Fprintf(tw, "SLO:\t%s\n", u)
	}
	if ap.MetadataURL != "" {
		fmt.Fprintf(tw, "Metadata from:\t%s\n", ap.MetadataURL)
		fmt.Fprintf(tw, "Metadata fetched at:\t%s\n", when(ap.MetadataFetchedAt))
		if ap.MetadataCheckedAt.After(ap.MetadataFetchedAt) {
			fmt.Fprintf(tw, "Last fetch failed at:\t%s (the last good metadata is kept; see the audit log)\n", when(ap.MetadataCheckedAt))
		}
	}
	fmt.Fprintf(tw, "NameID:\t%s\n", ap.NameIDFormat)
	fmt.Fprintf(tw, "Signs AuthnRequests:\t%t\n", ap.SignsRequest)
	fmt.Fprintf(tw, "Required strength (acr):\t%s\n", dash(ap.RequiredACR))
	fmt.Fprintf(tw, "Created:\t%s\n", when(ap.CreatedAt))
	fmt.Fprintf(tw, "IdP metadata:\t%s\n", ep.Metadata)
	fmt.Fprintf(tw, "IdP SSO:\t%s\n", ep.SSO)
	fmt.Fprintf(tw, "IdP SLO:\t%s\n", ep.SLO)
	return tw.Flush()
}

func (e *env) appRefreshCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "refresh NAME",
		Short: "Fetch a SAML app's metadata again from the URL it was registered with",
		Long: `Fetch a SAML app's metadata again from its metadata URL, as "sesame serve"
does by itself once a day. Use it when the service provider has rotated its
certificate or moved its ACS URL and sign-ins cannot wait.

The new metadata is checked as at registration and must name the same entity
ID; if the fetch fails or the metadata is refused, the app keeps its last good
metadata. Apps registered from a file or with --saml-acs have no URL to fetch:
delete and add them again instead. Every refresh is in the audit log.`,
		Args: exactArgs(1, "a NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			if a.SAML == nil {
				return errors.New("this database backend does not support SAML apps")
			}
			r, err := a.SAML.RefreshApp(cmd.Context(), audit.CLI, args[0])
			if err != nil && problem.As(err).Code == samlidp.ErrUnknownApp.Code && a.OIDC != nil {
				if _, oerr := a.OIDC.App(cmd.Context(), args[0]); oerr == nil {
					return fmt.Errorf("%s is an OpenID Connect app: only SAML apps registered from a metadata URL can be refreshed", args[0])
				}
			}
			if pe := problem.As(err); err != nil && pe.Detail != "" && (pe.Code == samlidp.ErrFetch.Code ||
				pe.Code == samlidp.ErrMetadata.Code || pe.Code == samlidp.ErrEntityChanged.Code) {
				// The operator needs the reason (a status, a TLS error, the
				// other entity ID), which the refusal's message leaves out.
				return fmt.Errorf("%s Reason: %s. %s keeps its last good metadata.", pe.Message, pe.Detail, args[0])
			}
			if err != nil {
				return err
			}
			if !r.Changed {
				fmt.Fprintf(e.stdout, "Fetched the metadata of %s from %s: unchanged.\n", r.Name, r.MetadataURL)
				return nil
			}
			fmt.Fprintf(e.stdout, "Fetched the metadata of %s from %s: it changed, and the new metadata is in use.\n", r.Name, r.MetadataURL)
			for _, u := range r.ACSURLs {
				fmt.Fprintf(e.stdout, "  ACS: %s\n", u)
			}
			return nil
		}),
	}
}

// unknownOIDCApp reports whether err is the OpenID provider's "no such app"
// (the name may then be a SAML app's).
func unknownOIDCApp(err error) bool {
	return err != nil && problem.As(err).Code == oidc.ErrUnknownApp.Code
}
