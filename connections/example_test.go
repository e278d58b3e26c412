package connections_test

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/authgate/authgate/connections"
)

// A service connecting its users to RoomSMart: the consent URL, the
// callback, then RoomSMart's API called for the user.
func Example() {
	ctx := context.Background()
	store, err := connections.OpenSQLite(ctx, "/var/lib/venue/connections.db", connections.SQLConfig{})
	if err != nil {
		panic(err)
	}
	svc, err := connections.New(store, connections.NewMemoryCache(nil), connections.Config{
		FlowConfig: connections.FlowConfig{
			Namespace: "prod/lodging-picks",
			HashKey:   []byte("32 bytes or more, from a secret store"),
			EncryptionKeys: []connections.Key{
				{ID: 2, Secret: []byte("the newest 32-byte key seals....")},
				{ID: 1, Secret: []byte("older 32-byte keys still open...")},
			},
		},
		Parties: []connections.Party{{
			Name:    "roomsmart",
			AuthURL: "https://roomsmart.example/authorize", TokenURL: "https://roomsmart.example/oauth/token",
			RevocationURL: "https://roomsmart.example/oauth/revoke",
			ClientID:      "lodging-picks", ClientSecret: "…",
			RedirectURL: "https://lodging.example/connections/roomsmart/callback",
			Scopes:      []string{"offline_access", "book:rooms"},
		}},
	})
	if err != nil {
		panic(err)
	}
	http.HandleFunc("POST /connections/roomsmart", func(w http.ResponseWriter, r *http.Request) {
		u, err := svc.Connect(r.Context(), "auth0|alice", "roomsmart", connections.AuthRequest{}) // the caller's subject
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, u)
	})
	http.HandleFunc("GET /connections/roomsmart/callback", func(w http.ResponseWriter, r *http.Request) {
		cb, err := connections.ParseCallback(r.URL.Query())
		if err == nil {
			_, err = svc.Complete(r.Context(), "auth0|alice", "roomsmart", cb)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	client := oauth2.NewClient(ctx, svc.TokenSource(ctx, "auth0|alice", "roomsmart"))
	_, _ = client.Post("https://api.roomsmart.example/v1/rooms/r1/bookings", "application/json", nil)
}
