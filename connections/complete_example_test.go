package connections_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
)

// Connecting alice's account at a third party — here the demo provider
// plays it — and acting for her there: the consent URL, the party's
// redirect back, the grant stored sealed, then access tokens on demand,
// until she disconnects.
func ExampleService_Complete() {
	party, _ := idptest.New(idptest.Demo())
	defer party.Close()
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "connections-example-")
	defer os.RemoveAll(dir)
	store, err := connections.OpenSQLite(ctx, filepath.Join(dir, "connections.db"), connections.SQLConfig{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	svc, err := connections.New(store, connections.NewMemoryCache(nil), connections.Config{
		FlowConfig: connections.FlowConfig{
			Namespace:      "prod/lodging-picks",
			HashKey:        []byte("32 bytes or more, from a secret store"),
			EncryptionKeys: []connections.Key{{ID: 1, Secret: []byte("a 32-byte key from secret store.")}},
		},
		Parties: []connections.Party{{
			Name: "roomsmart", AuthURL: party.AuthorizeURL(), TokenURL: party.TokenURL(), RevocationURL: party.RevocationURL(),
			ClientID: "partner-app", ClientSecret: "partner-app-secret",
			RedirectURL: "https://lodging.example/connections/roomsmart/callback",
			Scopes:      []string{"offline_access", "read:venues"}, Audience: idptest.DemoAPI,
		}},
	})
	if err != nil {
		panic(err)
	}

	consent, err := svc.Connect(ctx, "auth0|alice", "roomsmart", connections.AuthRequest{LoginHint: "alice", Organization: "org_acme"})
	if err != nil {
		panic(err)
	}
	// The browser goes to consent; the party sends it back to RedirectURL
	// with a code and the state.
	back := redirect(consent)
	cb, err := connections.ParseCallback(back.Query())
	if err != nil {
		panic(err)
	}
	conn, err := svc.Complete(ctx, "auth0|alice", "roomsmart", cb)
	fmt.Println(conn.Party, conn.Status, conn.Scopes, err)

	tok, err := svc.TokenSource(ctx, "auth0|alice", "roomsmart").Token()
	fmt.Println(tok.Type(), tok.Valid(), err)

	_ = svc.Disconnect(ctx, "auth0|alice", "roomsmart") // revoked at the party, then forgotten
	_, err = svc.TokenSource(ctx, "auth0|alice", "roomsmart").Token()
	fmt.Println(errors.Is(err, connections.ErrReconnect))
	// Output:
	// roomsmart connected [offline_access read:venues] <nil>
	// Bearer true <nil>
	// true
}

// redirect follows u once and returns where it sends the browser.
func redirect(u string) *url.URL {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		panic(err)
	}
	return loc
}
