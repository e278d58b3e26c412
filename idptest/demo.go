package idptest

// DemoAPI is the identifier (audience) of the demo configuration's API.
const DemoAPI = "https://api.venue.example"

// Demo returns the demo tenant that the examples and authgate's tests use:
// one API, two organizations, three roles, three users and three clients,
// as listed in the package documentation. Each call returns a fresh Config
// that the caller may change.
func Demo() Config {
	return Config{
		APIs: []API{{
			Identifier: DemoAPI,
			Scopes:     []string{"read:venues", "book:venues", "manage:venues", "read:datasets"},
		}},
		DefaultAudience: DemoAPI,
		Organizations: []Organization{
			{ID: "org_acme", Name: "acme"},
			{ID: "org_globex", Name: "globex"},
		},
		Roles: []Role{
			{Name: "venue-viewer", Permissions: []string{"read:venues", "read:datasets"}},
			{Name: "venue-booker", Permissions: []string{"read:venues", "book:venues"}},
			{Name: "venue-admin", Permissions: []string{"read:venues", "book:venues", "manage:venues", "read:datasets"}},
		},
		Users: []User{
			{
				ID: "auth0|alice", Username: "alice", Password: "alice-password",
				Email: "alice@acme.example", Name: "Alice Archer",
				Memberships: []Membership{{OrgID: "org_acme", Roles: []string{"venue-booker", "venue-viewer"}}},
				Claims:      map[string]any{"https://venue.example/tier": "gold"},
			},
			{
				ID: "auth0|bob", Username: "bob", Password: "bob-password",
				Email: "bob@globex.example", Name: "Bob Baker",
				Memberships: []Membership{{OrgID: "org_globex", Roles: []string{"venue-viewer"}}},
			},
			{
				ID: "auth0|carol", Username: "carol", Password: "carol-password",
				Email: "carol@venue.example", Name: "Carol Chen",
				Roles: []string{"venue-admin"},
			},
		},
		Clients: []Client{
			{
				ID: "venue-app", Secret: "venue-app-secret", Name: "Venue app", Kind: ClientFirstParty,
				Grants: []string{grantPassword, grantRefreshToken, grantAuthorizationCode},
			},
			{
				ID: "partner-app", Secret: "partner-app-secret", Name: "Partner app", Kind: ClientPartner,
				Grants: []string{grantAuthorizationCode, grantRefreshToken},
			},
			{
				ID: "venue-worker", Secret: "venue-worker-secret", Name: "Venue worker", Kind: ClientMachine,
				Grants: []string{grantClientCredentials},
				Scopes: map[string][]string{DemoAPI: {"read:venues", "read:datasets"}},
			},
		},
		OrgNameInToken: true,
	}
}
