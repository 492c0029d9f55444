package postgres

import (
	"testing"

	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func TestSAMLConformance(t *testing.T) {
	base := testURL(t)
	storetest.RunSAML(t, func(t *testing.T) storetest.SAMLStore {
		return open(t, newSchema(t, base))
	})
}
