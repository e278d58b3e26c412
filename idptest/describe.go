package idptest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Describe writes the tenant — APIs, organizations, users with their
// passwords and roles, clients with their secrets and grants — one per
// line, for programs that print how to try them (examples/idp,
// examples/venue).
func (c Config) Describe(w io.Writer) error {
	var b strings.Builder
	b.WriteString("APIs (audience: scopes)\n")
	for _, a := range c.APIs {
		fmt.Fprintf(&b, "  %s: %s\n", a.Identifier, strings.Join(a.Scopes, " "))
	}
	b.WriteString("Organizations (id, name)\n")
	for _, o := range c.Organizations {
		fmt.Fprintf(&b, "  %-12s %s\n", o.ID, o.Name)
	}
	b.WriteString("Users (username / password, sub, email: roles)\n")
	for _, u := range c.Users {
		var roles []string
		if len(u.Roles) > 0 {
			roles = append(roles, "tenant "+strings.Join(u.Roles, "+"))
		}
		for _, m := range u.Memberships {
			roles = append(roles, m.OrgID+" "+strings.Join(m.Roles, "+"))
		}
		fmt.Fprintf(&b, "  %-6s / %-15s %-12s %-20s %s\n", u.Username, u.Password, u.ID, u.Email, strings.Join(roles, ", "))
	}
	b.WriteString("Clients (id / secret, kind: grants)\n")
	for _, cl := range c.Clients {
		grants := strings.Join(cl.Grants, " ")
		for _, aud := range slices.Sorted(maps.Keys(cl.Scopes)) {
			grants += fmt.Sprintf(" (%s on %s)", strings.Join(cl.Scopes[aud], " "), aud)
		}
		fmt.Fprintf(&b, "  %-12s / %-20s %s: %s\n", cl.ID, cl.Secret, cl.Kind, grants)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
