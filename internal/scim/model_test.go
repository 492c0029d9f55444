package scim

import (
	"encoding/json"
	"slices"
	"testing"
)

func ops(t *testing.T, s string) []patchOp {
	t.Helper()
	o, err := decodePatch([]byte(`{"schemas":["` + PatchOpSchema + `"],"Operations":` + s + `}`))
	if err != nil {
		t.Fatalf("decodePatch(%s): %v", s, err)
	}
	return o
}

func TestPatchUserModel(t *testing.T) {
	start := userModel{UserName: "alice", DisplayName: "Alice", Email: "a@example.com", ExternalID: "E1", Active: true}
	for _, tc := range []struct {
		ops  string
		want userModel
		err  string // scimType
	}{
		{`[{"op":"replace","path":"active","value":false}]`, userModel{UserName: "alice", DisplayName: "Alice", Email: "a@example.com", ExternalID: "E1"}, ""},
		{`[{"op":"replace","path":"active","value":"False"}]`, userModel{UserName: "alice", DisplayName: "Alice", Email: "a@example.com", ExternalID: "E1"}, ""},
		{`[{"op":"replace","value":{"active":false,"displayName":"A"}}]`, userModel{UserName: "alice", DisplayName: "A", Email: "a@example.com", ExternalID: "E1"}, ""},
		{`[{"op":"remove","path":"emails[type eq \"work\"]"}]`, userModel{UserName: "alice", DisplayName: "Alice", ExternalID: "E1", Active: true}, ""},
		{`[{"op":"replace","path":"emails","value":[{"value":"x@example.com"},{"value":"p@example.com","primary":true}]}]`, userModel{UserName: "alice", DisplayName: "Alice", Email: "p@example.com", ExternalID: "E1", Active: true}, ""},
		{`[{"op":"remove","path":"displayName"},{"op":"add","path":"name.givenName","value":"Al"},{"op":"add","path":"name.familyName","value":"Ice"}]`, userModel{UserName: "alice", Email: "a@example.com", ExternalID: "E1", Active: true, GivenName: "Al", FamilyName: "Ice"}, ""},
		{`[{"op":"replace","path":"name.middleName","value":"x"}]`, start, "invalidPath"},
		{`[{"op":"remove","path":"active"}]`, start, "mutability"},
		{`[{"op":"replace","path":"members","value":[]}]`, start, "invalidPath"},
		{`[{"op":"replace","value":"not an object"}]`, start, "invalidSyntax"},
	} {
		got, err := patchUser(start, ops(t, tc.ops))
		if tc.err != "" {
			if e, ok := err.(*Error); !ok || e.SCIMType != tc.err {
				t.Errorf("%s: err %v, want %s", tc.ops, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", tc.ops, got, err, tc.want)
		}
	}
	if (userModel{GivenName: "Al", FamilyName: "Ice"}).finalDisplayName() != "Al Ice" {
		t.Error("finalDisplayName does not join given and family names")
	}
}

func TestPatchGroupModel(t *testing.T) {
	start := groupModel{DisplayName: "Eng", ExternalID: "d7", Members: []string{"a", "b"}}
	for _, tc := range []struct {
		ops     string
		name    string
		members []string
		err     string
	}{
		{`[{"op":"add","path":"members","value":[{"value":"c"},{"value":"a"}]}]`, "Eng", []string{"a", "b", "c"}, ""},
		{`[{"op":"replace","path":"members","value":[{"value":"c"}]}]`, "Eng", []string{"c"}, ""},
		{`[{"op":"remove","path":"members[value eq \"a\"]"}]`, "Eng", []string{"b"}, ""},
		{`[{"op":"remove","path":"members"}]`, "Eng", nil, ""},
		{`[{"op":"remove","path":"members","value":[{"value":"b"}]}]`, "Eng", []string{"a"}, ""},
		{`[{"op":"replace","value":{"displayName":"R&D","members":[{"value":"z"}]}}]`, "R&D", []string{"z"}, ""},
		{`[{"op":"add","value":{"members":[{"value":"z"}]}}]`, "Eng", []string{"a", "b", "z"}, ""},
		{`[{"op":"replace","path":"displayName","value":""}]`, "", nil, "invalidValue"},
		{`[{"op":"remove","path":"members[display eq \"a\"]"}]`, "", nil, "invalidPath"},
		{`[{"op":"add","path":"members","value":"a"}]`, "", nil, "invalidValue"},
	} {
		got, err := patchGroup(start, ops(t, tc.ops))
		if tc.err != "" {
			if e, ok := err.(*Error); !ok || e.SCIMType != tc.err {
				t.Errorf("%s: err %v, want %s", tc.ops, err, tc.err)
			}
			continue
		}
		if err != nil || got.DisplayName != tc.name || !slices.Equal(got.Members, tc.members) {
			t.Errorf("%s: got %+v, %v", tc.ops, got, err)
		}
	}
	if !slices.Equal(start.Members, []string{"a", "b"}) {
		t.Error("patchGroup changed its input")
	}
}

func TestDecodePatchRefusals(t *testing.T) {
	for _, body := range []string{
		`{"Operations":[{"op":"add","path":"x","value":1}]}`,
		`{"schemas":["` + PatchOpSchema + `"],"Operations":[{"op":"add","path":"x","value":1,"extra":1}]}`,
		`{"schemas":["` + PatchOpSchema + `"],"Operations":{"op":"add"}}`,
		`{"schemas":["` + PatchOpSchema + `"],"Operations":[],"more":1}`,
		`[]`,
	} {
		if _, err := decodePatch([]byte(body)); err == nil {
			t.Errorf("decodePatch(%s) accepted", body)
		}
	}
	var e *Error
	_, err := decodePatch(json.RawMessage(`{"schemas":["` + PatchOpSchema + `"],"Operations":[{"op":"remove","path":" "}]}`))
	if e, _ = err.(*Error); e == nil || e.SCIMType != "noTarget" {
		t.Errorf("remove with a blank path: %v", err)
	}
}

// FuzzDecode: whatever a client sends, decoding and patching return a
// value or a SCIM error, never panic or another kind of error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["` + UserSchema + `"],"userName":"a","emails":[{"value":"a@b.c","primary":true}],"name":{"givenName":"A"}}`,
		`{"schemas":["` + GroupSchema + `"],"displayName":"g","members":[{"value":"x"}]}`,
		`{"schemas":["` + PatchOpSchema + `"],"Operations":[{"op":"remove","path":"members[value eq \"x\"]"},{"op":"add","value":{"active":"False"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(err error) {
			if _, ok := err.(*Error); err != nil && !ok {
				t.Fatalf("error of another type: %v", err)
			}
		}
		_, err := decodeUser(b)
		check(err)
		_, err = decodeGroup(b)
		check(err)
		if ops, err := decodePatch(b); err == nil {
			_, err = patchUser(userModel{UserName: "a", Active: true}, ops)
			check(err)
			_, err = patchGroup(groupModel{DisplayName: "g", Members: []string{"x"}}, ops)
			check(err)
		} else {
			check(err)
		}
	})
}
