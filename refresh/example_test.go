package refresh_test

import (
	"net/http"

	"github.com/authgate/authgate/refresh"
)

// A web app's authorization-code callback answers ExchangeCode's errors as
// the service's own handlers answer theirs: 401 for a code the provider
// refused, 403 with the provider's code for a denial (consent_required,
// mfa_required, …), 429 or 503 with Retry-After.
func ExampleService_WriteError() {
	var svc *refresh.Service // from refresh.New
	codeVerifier := func(r *http.Request) string { return "" /* the PKCE verifier kept in the user's session */ }

	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		// (Check the state parameter against the session first.)
		tokens, err := svc.ExchangeCode(r.Context(), r.URL.Query().Get("code"), "https://venue.example/callback", codeVerifier(r))
		if err != nil {
			svc.WriteError(w, err)
			return
		}
		_ = tokens // hand the access token to the app; the refresh token stays on the server
	})
}
