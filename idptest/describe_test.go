package idptest_test

import (
	"strings"
	"testing"

	"github.com/authgate/authgate/idptest"
)

func TestDescribe(t *testing.T) {
	var b strings.Builder
	if err := idptest.Demo().Describe(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"https://api.venue.example: read:venues book:venues manage:venues read:datasets",
		"org_acme     acme",
		"alice  / alice-password  auth0|alice",
		"venue-worker / venue-worker-secret  machine: client_credentials (read:venues read:datasets on https://api.venue.example)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Describe lacks %q:\n%s", want, b.String())
		}
	}
}
