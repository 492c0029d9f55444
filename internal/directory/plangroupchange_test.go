package directory

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/sesame-idp/sesame/internal/store"
)

func TestPlanGroupChange(t *testing.T) {
	g := store.Group{ID: "g1", Name: "eng", ExternalID: "ext-1"}
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name    string
		c       GroupChange
		want    store.GroupChange
		wantErr bool
	}{
		{"nothing", GroupChange{}, store.GroupChange{}, false},
		{"same name and external ID", GroupChange{Name: s(" eng "), ExternalID: s(" ext-1 ")}, store.GroupChange{}, false},
		{"rename, trimmed", GroupChange{Name: s("  engineering ")}, store.GroupChange{Name: s("engineering")}, false},
		{"rename in case only", GroupChange{Name: s("Eng")}, store.GroupChange{Name: s("Eng")}, false},
		{"empty name", GroupChange{Name: s("  ")}, store.GroupChange{}, true},
		{"long name", GroupChange{Name: s(string(make([]byte, 65)))}, store.GroupChange{}, true},
		{"control character in name", GroupChange{Name: s("a\x01b")}, store.GroupChange{}, true},
		{"new external ID, trimmed", GroupChange{ExternalID: s(" ext-2 ")}, store.GroupChange{ExternalID: s("ext-2")}, false},
		{"external ID case kept", GroupChange{ExternalID: s("EXT-1")}, store.GroupChange{ExternalID: s("EXT-1")}, false},
		{"external ID cleared", GroupChange{ExternalID: s("")}, store.GroupChange{ExternalID: s("")}, false},
		{"bad external ID", GroupChange{ExternalID: s("x\ny")}, store.GroupChange{}, true},
		{"bad external ID with a good name", GroupChange{Name: s("engineering"), ExternalID: s("x\ny")}, store.GroupChange{}, true},
		{"members once each, in order", GroupChange{Add: []string{"u2", "u1", "u2"}, Remove: []string{"u3", "u3"}},
			store.GroupChange{Add: []string{"u2", "u1"}, Remove: []string{"u3"}}, false},
		{"added and removed", GroupChange{Add: []string{"u1", "u2"}, Remove: []string{"u2"}}, store.GroupChange{}, true},
	} {
		got, err := planGroupChange(g, tc.c)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, show(got), show(tc.want))
		}
	}
	if _, err := planGroupChange(g, GroupChange{Add: []string{"u1"}, Remove: []string{"u1"}}); !errors.Is(err, errAddAndRemove) {
		t.Errorf("a user added and removed: %v, want %v", err, errAddAndRemove)
	}
}

func show(c store.GroupChange) string {
	p := func(s *string) string {
		if s == nil {
			return "nil"
		}
		return strconv.Quote(*s)
	}
	return fmt.Sprintf("{Name:%s ExternalID:%s Add:%q Remove:%q}", p(c.Name), p(c.ExternalID), c.Add, c.Remove)
}
