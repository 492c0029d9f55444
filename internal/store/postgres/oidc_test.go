package postgres

import (
	"testing"

	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func TestOIDCConformance(t *testing.T) {
	base := testURL(t)
	storetest.RunOIDC(t, func(t *testing.T) storetest.OIDCStore {
		return open(t, newSchema(t, base))
	})
}
