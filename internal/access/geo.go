package access

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Countries resolves addresses to countries with a MaxMind-format database
// (GeoLite2-Country, GeoIP2-Country or City, or any database with the same
// "country" record). A nil *Countries knows no country.
type Countries struct {
	db *maxminddb.Reader
}

// OpenCountries opens a country database file. It is memory-mapped and
// read-only; lookups are safe for concurrent use.
func OpenCountries(path string) (*Countries, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the country database %s: %w", path, err)
	}
	return newCountries(db)
}

// CountriesFromBytes reads a country database held in memory.
func CountriesFromBytes(b []byte) (*Countries, error) {
	db, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("cannot read the country database: %w", err)
	}
	return newCountries(db)
}

func newCountries(db *maxminddb.Reader) (*Countries, error) {
	if db.Metadata.IPVersion != 4 && db.Metadata.IPVersion != 6 {
		db.Close()
		return nil, fmt.Errorf("the country database has an unexpected IP version %d", db.Metadata.IPVersion)
	}
	return &Countries{db: db}, nil
}

type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country returns the ISO 3166-1 alpha-2 code of the country of ip, or ""
// when it is unknown: no database, an address the database has no country
// for (private ranges, some anycast), or a read error. The country where
// the address is used is preferred; the one it is registered to is the
// fallback, as MaxMind advises.
func (c *Countries) Country(ip netip.Addr) string {
	if c == nil || c.db == nil || !ip.IsValid() {
		return ""
	}
	var rec countryRecord
	if err := c.db.Lookup(ip.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	if rec.Country.ISOCode != "" {
		return rec.Country.ISOCode
	}
	return rec.RegisteredCountry.ISOCode
}

// Close releases the database.
func (c *Countries) Close() error {
	if c == nil || c.db == nil {
		return nil
	}
	err := c.db.Close()
	c.db = nil // a second Close does nothing
	return err
}
