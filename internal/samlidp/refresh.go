package samlidp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// RefreshInterval is how old the last check of an app's metadata URL may
// grow before the server fetches it again. An SP that rotates its
// certificate or moves its ACS usually publishes the new metadata ahead of
// the switch; a day keeps Sesame within that window without polling SPs
// hard. An admin who cannot wait runs "sesame app refresh".
const RefreshInterval = 24 * time.Hour

// systemActor is who the periodic refresh is in the audit log as (as the
// OpenID provider's back-channel logout is).
const systemActor = audit.Actor("system")

// Refusals of a metadata refresh.
var (
	ErrNoMetadataURL = problem.New(http.StatusConflict, "saml_no_metadata_url",
		"This SAML app was registered from a metadata file or an ACS URL and entity ID: it has no metadata URL to fetch again. To change its metadata, delete the app and add it again.")
	ErrEntityChanged = problem.New(http.StatusConflict, "saml_entity_changed",
		"The metadata URL now describes another entity ID than the app's; the app keeps its metadata. If the service provider really changed its entity ID, register it as a new app.")
)

// Refreshed is a SAML app after its metadata was fetched again, and
// whether the metadata differed from the stored copy.
type Refreshed struct {
	App
	Changed bool `json:"changed"`
}

// RefreshApp fetches an app's metadata URL again and keeps what it serves
// if it passes the checks registration makes and names the same entity.
// Anything else (a failed fetch, invalid metadata, another entity ID) is
// refused and keeps the last good metadata. Every attempt is in the audit
// log as saml_app.refresh with its outcome.
func (p *IdP) RefreshApp(ctx context.Context, actor audit.Actor, name string) (Refreshed, error) {
	a, err := p.apps.GetSAMLApp(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Refreshed{}, ErrUnknownApp.WithDetail("app %q", name)
	} else if err != nil {
		return Refreshed{}, err
	}
	if a.MetadataURL == "" {
		return Refreshed{}, ErrNoMetadataURL.WithDetail("app %q", name)
	}
	return p.refresh(ctx, actor, a)
}

func (p *IdP) refresh(ctx context.Context, actor audit.Actor, a store.SAMLApp) (Refreshed, error) {
	md, err := p.fetchMetadata(ctx, a.MetadataURL)
	var ed *saml.EntityDescriptor
	if err == nil {
		ed, err = ParseSPMetadata(md)
	}
	if err == nil && ed.EntityID != a.EntityID {
		err = ErrEntityChanged.WithDetail("app %q is entity %q; %s now serves entity %q", a.Name, a.EntityID, a.MetadataURL, ed.EntityID)
	}
	now := p.now()
	if err != nil {
		// Only a refusal of ours has a reason fit for the log; anything
		// else is not expected here and is returned as it is.
		reason := err.Error()
		if pe := problem.As(err); pe.Code != "internal" {
			reason = pe.Code + ": " + pe.Detail
		}
		audit.Log(ctx, p.store, now, actor, "saml_app.refresh", a.Name, map[string]string{
			"outcome": "failed", "metadata_url": a.MetadataURL, "reason": reason})
		// The attempt is kept, so the app shows that its last fetch failed
		// (a check later than the fetch). A claim due just after now
		// always holds but when another instance checked this instant.
		if _, cerr := p.apps.ClaimSAMLMetadataCheck(ctx, a.Name, now.Add(time.Millisecond), now); cerr != nil {
			p.log.WarnContext(ctx, "recording a failed SAML metadata fetch failed", "app", a.Name, "err", cerr)
		}
		return Refreshed{}, err
	}
	changed := !bytes.Equal(md, a.Metadata)
	var keep []byte // nil: the stored metadata stays
	if changed {
		keep = md
	}
	if err := p.apps.RecordSAMLMetadata(ctx, a.Name, keep, now); errors.Is(err, store.ErrNotFound) {
		return Refreshed{}, ErrUnknownApp.WithDetail("app %q was deleted during the refresh", a.Name)
	} else if err != nil {
		return Refreshed{}, err
	}
	detail := map[string]any{"outcome": "unchanged", "metadata_url": a.MetadataURL}
	if changed {
		detail["outcome"] = "changed"
		for k, v := range metadataChanges(a.Metadata, md) {
			detail[k] = v
		}
	}
	audit.Log(ctx, p.store, now, actor, "saml_app.refresh", a.Name, detail)
	a.MetadataFetchedAt, a.MetadataCheckedAt = now, now
	if changed {
		a.Metadata, a.UpdatedAt = md, now
		p.log.InfoContext(ctx, "SAML app metadata changed", "app", a.Name, "metadata_url", a.MetadataURL)
	}
	return Refreshed{App: appFrom(a), Changed: changed}, nil
}

// metadataChanges says, for the audit log, what an admin wants to know of
// changed metadata: whether the ACS URLs or the certificates moved (as
// before/after lists; certificates by SHA-256 fingerprint).
func metadataChanges(before, after []byte) map[string]any {
	out := map[string]any{}
	// Both passed ParseSPMetadata before they were stored.
	b, errB := ParseSPMetadata(before)
	a, errA := ParseSPMetadata(after)
	if errB != nil || errA != nil {
		return out
	}
	if acsB, acsA := acsURLs(b), acsURLs(a); !slices.Equal(acsB, acsA) {
		out["acs_before"], out["acs_after"] = acsB, acsA
	}
	if cB, cA := certFingerprints(b), certFingerprints(a); !slices.Equal(cB, cA) {
		out["certificates_before"], out["certificates_after"] = cB, cA
	}
	return out
}

func acsURLs(ed *saml.EntityDescriptor) []string {
	var out []string
	for _, sp := range ed.SPSSODescriptors {
		for _, acs := range sp.AssertionConsumerServices {
			out = append(out, acs.Location)
		}
	}
	return out
}

func certFingerprints(ed *saml.EntityDescriptor) []string {
	var out []string
	for _, sp := range ed.SPSSODescriptors {
		for _, kd := range sp.KeyDescriptors {
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					continue
				}
				sum := sha256.Sum256(der)
				out = append(out, hex.EncodeToString(sum[:]))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RefreshDue refreshes the metadata of every app registered by URL that
// was last checked more than RefreshInterval ago, and returns how many it
// tried. Several instances may run it at once: each app is claimed in the
// store first, so one instance fetches it per interval. A failure is in
// the audit log and the server log, and is tried again an interval later.
func (p *IdP) RefreshDue(ctx context.Context) int {
	apps, err := p.apps.ListSAMLApps(ctx)
	if err != nil {
		p.log.WarnContext(ctx, "listing SAML apps to refresh their metadata failed", "err", err)
		return 0
	}
	tried := 0
	for _, a := range apps {
		now := p.now()
		if a.MetadataURL == "" || (!a.MetadataCheckedAt.IsZero() && a.MetadataCheckedAt.After(now.Add(-RefreshInterval))) {
			continue
		}
		won, err := p.apps.ClaimSAMLMetadataCheck(ctx, a.Name, now.Add(-RefreshInterval), now)
		if err != nil {
			p.log.WarnContext(ctx, "claiming a SAML metadata refresh failed", "app", a.Name, "err", err)
			continue
		}
		if !won {
			continue // another instance has it, or it was deleted
		}
		tried++
		if _, err := p.refresh(ctx, systemActor, a); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "refreshing SAML app metadata failed; the app keeps its last good metadata",
				"app", a.Name, "metadata_url", a.MetadataURL, "err", err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return tried
}

// RunMetadataRefresh looks for due metadata refreshes every interval until
// ctx ends. The first look waits a random part of the interval, so that
// instances started together do not all list the apps at once (the claim
// in RefreshDue keeps them from fetching twice either way).
func (p *IdP) RunMetadataRefresh(ctx context.Context, interval time.Duration) {
	first := time.NewTimer(rand.N(interval))
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-first.C:
	}
	p.RefreshDue(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.RefreshDue(ctx)
		}
	}
}
