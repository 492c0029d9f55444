package access

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// countryDB builds a small country database in the GeoLite2-Country
// layout: network -> {country: {iso_code}} (or only registered_country).
func countryDB(t testing.TB, networks map[string]string, registeredOnly map[string]string) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "Sesame-Test-Country",
		RecordSize:              24,
		IncludeReservedNetworks: true, // the test uses documentation ranges
	})
	if err != nil {
		t.Fatal(err)
	}
	insert := func(cidr, key, code string) {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{mmdbtype.String(key): mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	for cidr, code := range networks {
		insert(cidr, "country", code)
	}
	for cidr, code := range registeredOnly {
		insert(cidr, "registered_country", code)
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testCountries(t testing.TB) *Countries {
	t.Helper()
	db := countryDB(t, map[string]string{
		"192.0.2.0/24":    "DE",
		"198.51.100.0/24": "US",
		"2001:db8:2::/48": "FR",
	}, map[string]string{"203.0.113.0/25": "NL"})
	path := filepath.Join(t.TempDir(), "countries.mmdb")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCountries(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCountries(t *testing.T) {
	c := testCountries(t)
	tests := map[string]string{
		"192.0.2.1":          "DE",
		"198.51.100.200":     "US",
		"::ffff:192.0.2.9":   "DE",
		"2001:db8:2::1":      "FR",
		"203.0.113.5":        "NL", // only a registered country
		"203.0.113.200":      "",   // not in the database
		"10.1.2.3":           "",
		"2001:db8:3::1":      "",
		"fe80::1":            "",
		"255.255.255.255":    "",
		"2001:db8:2:ffff::1": "FR",
	}
	for addr, want := range tests {
		if got := c.Country(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Country(%s) = %q, want %q", addr, got, want)
		}
	}
	if got := c.Country(netip.Addr{}); got != "" {
		t.Errorf("no address: %q", got)
	}
	var none *Countries
	if got := none.Country(netip.MustParseAddr("192.0.2.1")); got != "" || none.Close() != nil {
		t.Errorf("nil database: %q", got)
	}
}

func TestCountriesBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.mmdb")
	os.WriteFile(path, []byte("not a database"), 0o600)
	if _, err := OpenCountries(path); err == nil {
		t.Error("a garbage file opened")
	}
	if _, err := OpenCountries(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("a missing file opened")
	}
	if _, err := CountriesFromBytes(nil); err == nil {
		t.Error("no bytes opened")
	}
}

// TestCountryLocationsEndToEnd: the service resolves the country of the
// address, and a country location (with unknown countries or without)
// decides.
func TestCountryLocationsEndToEnd(t *testing.T) {
	s := newService(directoryStore())
	s.Countries = testCountries(t)
	doc := Document{
		Locations: []Location{{Name: "Germany", Countries: []string{"DE"}}, {Name: "Unknown", Countries: []string{"KP"}, IncludeUnknown: true}},
		Policies: []Policy{
			{Name: "block unknown", State: StateOn, Users: Users{All: true, Exclude: []string{"breakglass"}}, Apps: Apps{All: true},
				Conditions: Conditions{Locations: IncludeExclude{Include: []string{"Unknown"}}}, Grant: Grant{Block: true}},
			{Name: "passkey outside Germany", State: StateOn, Users: Users{All: true, Exclude: []string{"breakglass"}}, Apps: Apps{All: true},
				Conditions: Conditions{Locations: IncludeExclude{Exclude: []string{"Germany"}}}, Grant: Grant{Strength: StrengthPasswordlessMFA}},
		},
	}
	if _, err := s.Import(t.Context(), "test", doc); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]Access{
		"192.0.2.7":     AccessAllow,  // Germany
		"198.51.100.7":  AccessStepUp, // US
		"203.0.113.200": AccessBlock,  // no country: unknown
		"2001:db8:9::1": AccessBlock,
	} {
		c := baseContext()
		c.IP = netip.MustParseAddr(addr)
		c.Satisfies = satisfies(StrengthMFA)
		d, err := s.Evaluate(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if d.Access != want {
			t.Errorf("%s: %s, want %s", addr, d.Access, want)
		}
	}
	// A country given by the caller is used as is.
	c := baseContext()
	c.IP, c.Country = netip.MustParseAddr("198.51.100.7"), "DE"
	c.Satisfies = satisfies(StrengthMFA)
	if d, _ := s.Evaluate(t.Context(), c); d.Access != AccessAllow {
		t.Errorf("given country ignored: %s", d.Access)
	}
}
