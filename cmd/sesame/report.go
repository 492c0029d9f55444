package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/report"
)

func (e *env) reportCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Reports on the passkey roll-out"}
	cmd.AddCommand(e.reportRolloutCmd())
	return cmd
}

func (e *env) reportRolloutCmd() *cobra.Command {
	var group, format string
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Passkey adoption, lock-out risk, sign-ins and the phase of each group",
		Long: `Shows per group and overall: users with 0, 1 or 2+ passkeys, synced and
device-bound passkeys, security keys, users at lock-out risk, registration
campaign progress, passkey/password/TAP sign-ins over 1, 7 and 30 days, what
report-only policies recorded, and for each group its phase and what stands
between it and the next one.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("%s takes no arguments, not %q (use --group G)", cmd.CommandPath(), args[0])}
			}
			return nil
		},
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			switch format {
			case "table", "csv", "json":
			default:
				return usageError{fmt.Errorf("--format must be table, csv or json, not %q", format)}
			}
			src := a.Rollout()
			if src == nil {
				return errors.New("this database backend does not support the roll-out report")
			}
			r, err := src.Load(cmd.Context(), a.Now(), strings.TrimSpace(group))
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			case "csv":
				return e.rolloutCSV(r)
			}
			e.rolloutTable(r)
			return nil
		}),
	}
	cmd.Flags().StringVar(&group, "group", "", "only this group (by name)")
	cmd.Flags().StringVar(&format, "format", "table", "table, csv or json")
	return cmd
}

// rolloutRows is the report as rows: overall, then one per group.
func rolloutRows(r report.Report) [][]string {
	rows := [][]string{{"scope", "phase", "users", "no_passkey", "one_passkey", "two_or_more", "with_synced",
		"with_device_bound", "with_security_key", "tap_only", "at_risk", "campaign_shown", "campaign_snoozed",
		"campaign_registered", "passkey_share_1d", "passkey_share_7d", "passkey_share_30d", "next"}}
	row := func(scope, phase string, s report.Stats, next string) []string {
		out := []string{scope, phase}
		for _, n := range []int{s.Users, s.NoPasskey, s.OnePasskey, s.TwoOrMore, s.WithSynced, s.WithDeviceBound,
			s.WithSecurityKey, s.TAPOnly, s.AtRisk, s.Campaign.Shown, s.Campaign.Snoozed, s.Campaign.Registered} {
			out = append(out, strconv.Itoa(n))
		}
		for _, w := range s.SignIns {
			out = append(out, fmt.Sprintf("%.0f%%", 100*w.PasskeyShare))
		}
		return append(out, next)
	}
	if r.Group == "" {
		rows = append(rows, row("(all users)", "", r.Overall, ""))
	}
	for _, g := range r.Groups {
		rows = append(rows, row(g.Name, string(g.Phase), g.Stats, g.Next))
	}
	return rows
}

func (e *env) rolloutCSV(r report.Report) error {
	w := csv.NewWriter(e.stdout)
	if err := w.WriteAll(rolloutRows(r)); err != nil {
		return err
	}
	return w.Error()
}

func (e *env) rolloutTable(r report.Report) {
	t := e.table()
	fmt.Fprintln(t, "SCOPE\tPHASE\tUSERS\t0 PASSKEYS\t1\t2+\tSYNCED\tDEVICE-BOUND\tSECURITY KEY\tAT RISK\tPASSKEY SHARE 1d/7d/30d")
	for _, row := range rolloutRows(r)[1:] {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s/%s/%s\n", row[0], row[1], row[2], row[3], row[4], row[5],
			row[6], row[7], row[8], row[10], row[14], row[15], row[16])
	}
	t.Flush()
	if len(r.Groups) > 0 {
		fmt.Fprintln(e.stdout, "\nNext steps:")
		for _, g := range r.Groups {
			fmt.Fprintf(e.stdout, "  %s (%s): %s\n", g.Name, g.Phase, g.Next)
		}
	}
	if len(r.Policies) > 0 {
		fmt.Fprintln(e.stdout, "\nConditional Access policies (report-only outcomes over 30 days):")
		t = e.table()
		fmt.Fprintln(t, "POLICY\tSTATE\tWOULD BLOCK\tWOULD STEP UP\tUSERS BLOCKED")
		for _, p := range r.Policies {
			w := p.Windows[len(p.Windows)-1]
			fmt.Fprintf(t, "%s\t%s\t%d sign-ins, %d users\t%d sign-ins, %d users\t%s\n", p.Name, p.State, w.Blocked, p.Blocked,
				w.StepUp, p.SteppedUp, strings.Join(p.BlockUsers, " "))
		}
		t.Flush()
	}
}
