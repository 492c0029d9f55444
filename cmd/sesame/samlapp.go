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

// unknownOIDCApp reports whether err is the OpenID provider's "no such app"
// (the name may then be a SAML app's).
func unknownOIDCApp(err error) bool {
	return err != nil && problem.As(err).Code == oidc.ErrUnknownApp.Code
}
