package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
)

// policySubcommands lets other files add commands under `sesame policy`
// (append in an init function) without editing this one.
var policySubcommands []func(e *env) *cobra.Command

func (e *env) policyCmd() *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "Authentication methods policy, strengths and other policies, as JSON files"}
	c.AddCommand(e.methodsPolicyCmd(), e.strengthsCmd())
	for _, f := range policySubcommands {
		c.AddCommand(f(e))
	}
	return c
}

// readPolicyFile reads FILE, or standard input for "-".
func readPolicyFile(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	return b, nil
}

func (e *env) methodsPolicyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "methods",
		Short: "Who may use which sign-in methods, passkey profiles, TAP settings, registration campaign",
	}
	var force bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the methods policy as JSON (edit it and load it back with set)",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			p, err := (&methods.Policies{Store: a.Store, Now: a.Now}).Load(cmd.Context())
			if err != nil {
				return err
			}
			b, err := methods.EncodePolicy(p)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		}),
	}
	set := &cobra.Command{
		Use:   "set FILE",
		Short: "Replace the methods policy with the JSON in FILE (- for standard input)",
		Long: `Replace the methods policy with the JSON document in FILE, as printed by
"sesame policy methods show". The document is checked as a whole (unknown
fields, group names, ranges) and refused with the reason if anything is
wrong; nothing changes then. A document whose "revision" is not the
stored one was edited from an outdated copy and is refused, so that it
does not silently undo someone else's change; --force replaces whatever
is stored. The change takes effect at the next sign-in or registration
and is recorded in the audit log.`,
		Args: exactArgs(1, "a FILE"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			b, err := readPolicyFile(cmd, args[0])
			if err != nil {
				return err
			}
			p, err := methods.DecodePolicy(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			ps := &methods.Policies{Store: a.Store, Now: a.Now}
			if force {
				cur, err := ps.Load(cmd.Context())
				if err != nil {
					return err
				}
				p.Revision = cur.Revision
			}
			saved, err := ps.Save(cmd.Context(), audit.CLI, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Saved the methods policy, revision %d.\n", saved.Revision)
			for _, w := range saved.Warnings() {
				fmt.Fprintln(e.stdout, "Warning: "+w+".")
			}
			return nil
		}),
	}
	set.Flags().BoolVar(&force, "force", false, "replace the stored policy even if it changed since FILE was exported")
	c.AddCommand(show, set)
	return c
}

func (e *env) strengthsCmd() *cobra.Command {
	c := &cobra.Command{Use: "strengths", Short: "Authentication strengths: built-in and custom"}
	var force bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the custom strengths as JSON; --all adds the built-in ones (not editable)",
		Args:  cobra.NoArgs,
	}
	var all bool
	show.Flags().BoolVar(&all, "all", false, "include the built-in strengths")
	show.RunE = e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
		d, err := (&methods.Strengths{Store: a.Store, Now: a.Now}).Load(cmd.Context())
		if err != nil {
			return err
		}
		if all {
			d.Strengths = append(methods.BuiltInStrengths(), d.Strengths...)
		}
		return writePolicyJSON(e.stdout, d)
	})
	set := &cobra.Command{
		Use:   "set FILE",
		Short: "Replace the custom strengths with the JSON in FILE (- for standard input)",
		Args:  exactArgs(1, "a FILE"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			b, err := readPolicyFile(cmd, args[0])
			if err != nil {
				return err
			}
			var d methods.StrengthsDoc
			dec := policyJSONDecoder(b)
			if err := dec.Decode(&d); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			ss := &methods.Strengths{Store: a.Store, Now: a.Now}
			if force {
				cur, err := ss.Load(cmd.Context())
				if err != nil {
					return err
				}
				d.Revision = cur.Revision
			}
			saved, err := ss.Save(cmd.Context(), audit.CLI, d)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Saved %d custom strengths, revision %d.\n", len(saved.Strengths), saved.Revision)
			return nil
		}),
	}
	set.Flags().BoolVar(&force, "force", false, "replace the stored strengths even if they changed since FILE was exported")
	c.AddCommand(show, set)
	return c
}

func (e *env) metadataCmd() *cobra.Command {
	c := &cobra.Command{Use: "metadata", Short: "FIDO authenticator metadata (MDS3) for attestation"}
	var roots []string
	var force bool
	load := &cobra.Command{
		Use:   "load FILE",
		Short: "Verify and load a FIDO Metadata Service BLOB from FILE",
		Long: `Verify and load a FIDO Metadata Service (MDS3) BLOB, the JWT file
published by the FIDO Alliance, downloaded by you: Sesame never fetches it.
The BLOB must be signed by a certificate for mds.fidoalliance.org chaining
to the FIDO root (GlobalSign Root R46); with --root, by any certificate
chaining to the given root instead (a private or test root). Revocation of
the signing chain is not checked online. The loaded entries (models,
attestation roots, status reports) are what enforced attestation verifies
new passkeys against; they replace the previous ones. A BLOB older than
the loaded one is refused unless --force.`,
		Args: exactArgs(1, "a FILE"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			blob, err := readPolicyFile(cmd, args[0])
			if err != nil {
				return err
			}
			opt := passkey.MDSOptions{SignerNames: passkey.FIDOSignerNames}
			if len(roots) > 0 {
				opt.SignerNames = nil
				for _, r := range roots {
					certs, err := readRootCertificates(r)
					if err != nil {
						return usageError{fmt.Errorf("--root %s: %w", r, err)}
					}
					opt.Roots = append(opt.Roots, certs...)
				}
			}
			md, warnings, err := passkey.ParseMDS(blob, opt, a.Now())
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(e.stderr, "sesame: warning: "+w)
			}
			if err := (&passkey.MetadataStore{Store: a.Store, Now: a.Now}).Save(cmd.Context(), audit.CLI, md, force); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Loaded metadata BLOB no. %d: %d authenticator models, signed by %s.\n", md.Number, len(md.Entries), md.Signer)
			if md.NextUpdate < a.Now().UTC().Format("2006-01-02") {
				fmt.Fprintf(e.stdout, "Note: it says a newer BLOB was due on %s; load a current one when you can.\n", md.NextUpdate)
			}
			return nil
		}),
	}
	load.Flags().StringArrayVar(&roots, "root", nil, "trust this root certificate file (PEM or DER) instead of the FIDO root; repeatable")
	load.Flags().BoolVar(&force, "force", false, "load even if the BLOB is older than the loaded one")
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the loaded metadata: serial number, dates and models",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			md, err := (&passkey.MetadataStore{Store: a.Store, Now: a.Now}).Load(cmd.Context())
			if err != nil {
				return err
			}
			if md == nil {
				fmt.Fprintln(e.stdout, "No authenticator metadata is loaded. Load one with: sesame metadata load FILE")
				return nil
			}
			fmt.Fprintf(e.stdout, "BLOB no. %d, next update %s, signed by %s, loaded %s by %s.\n", md.Number, md.NextUpdate, md.Signer, when(md.LoadedAt), dash(md.LoadedBy))
			tw := e.table()
			fmt.Fprintln(tw, "AAGUID\tMODEL\tSTATUS")
			for _, en := range md.Entries {
				status := "-"
				if n := len(en.Status); n > 0 {
					status = en.Status[n-1].Status
				}
				id := en.AAGUID
				if id == "" {
					id = "(U2F key " + strings.Join(en.KeyIDs, ",") + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", id, dash(en.Name), status)
			}
			return tw.Flush()
		}),
	}
	c.AddCommand(load, show)
	return c
}

// readRootCertificates reads PEM (one or more certificates) or DER.
func readRootCertificates(name string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) > 0 {
		return out, nil
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, errors.New("not a PEM or DER certificate")
	}
	return []*x509.Certificate{c}, nil
}

func writePolicyJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func policyJSONDecoder(b []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec
}
