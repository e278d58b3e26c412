package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Revocation is what an administrator asks to revoke: a subject, a
// subject through one client (a grant), or an organization, for the tokens
// issued before IssuedBefore (zero: now).
type Revocation struct {
	Subject      string    `json:"subject,omitempty"`
	ClientID     string    `json:"client_id,omitempty"`
	OrgID        string    `json:"org_id,omitempty"`
	IssuedBefore time.Time `json:"issued_before,omitzero"`
}

// maxRevocationBody bounds a revocation request's body.
const maxRevocationBody = 16 << 10

// ParseRevocation reads a revocation request's body: JSON
// (application/json) or a form (application/x-www-form-urlencoded), with
// subject, or subject and client_id, or org_id, and optionally
// issued_before (RFC 3339). Anything else — another shape, an unknown or
// repeated field, a value that is not a string, a body over 16 KiB — is an
// error matching ErrBadRevocation.
func ParseRevocation(r *http.Request) (Revocation, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return Revocation{}, fmt.Errorf("%w: the body must be JSON or a form", ErrBadRevocation)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRevocationBody+1))
	if err != nil {
		return Revocation{}, fmt.Errorf("%w: reading the body: %w", ErrBadRevocation, err)
	}
	if len(body) > maxRevocationBody {
		return Revocation{}, fmt.Errorf("%w: the body is over %d bytes", ErrBadRevocation, maxRevocationBody)
	}
	var fields map[string]string
	switch mt {
	case "application/json":
		fields, err = jsonFields(body)
	case "application/x-www-form-urlencoded":
		fields, err = formFields(body)
	default:
		err = errors.New("the body must be JSON or a form")
	}
	if err != nil {
		return Revocation{}, fmt.Errorf("%w: %w", ErrBadRevocation, err)
	}
	return revocationOf(fields)
}

// revocationFields are the fields a revocation request may hold.
var revocationFields = map[string]bool{"subject": true, "client_id": true, "org_id": true, "issued_before": true}

func jsonFields(body []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errors.New("the body is not a JSON object")
	}
	fields := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%s is not a string", strconv.Quote(k))
		}
		fields[k] = s
	}
	return fields, nil
}

func formFields(body []byte) (map[string]string, error) {
	vs, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("the form does not parse")
	}
	fields := make(map[string]string, len(vs))
	for k, v := range vs {
		if len(v) != 1 {
			return nil, fmt.Errorf("%s is given %d times", strconv.Quote(k), len(v))
		}
		fields[k] = v[0]
	}
	return fields, nil
}

// revocationOf checks the fields' shape.
func revocationOf(fields map[string]string) (Revocation, error) {
	for k := range fields {
		if !revocationFields[k] {
			return Revocation{}, fmt.Errorf("%w: unknown field %s", ErrBadRevocation, strconv.Quote(k))
		}
	}
	rv := Revocation{Subject: fields["subject"], ClientID: fields["client_id"], OrgID: fields["org_id"]}
	if v, ok := fields["issued_before"]; ok {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return Revocation{}, fmt.Errorf("%w: issued_before is not an RFC 3339 time", ErrBadRevocation)
		}
		rv.IssuedBefore = t
	}
	switch {
	case rv.OrgID != "" && rv.Subject == "" && rv.ClientID == "",
		rv.Subject != "" && rv.OrgID == "":
		return rv, nil
	}
	return Revocation{}, fmt.Errorf("%w: want subject, subject and client_id, or org_id", ErrBadRevocation)
}

// Revoke carries out rv: RevokeGrant with a client id, RevokeSubject with
// a subject alone, RevokeOrganization with an organization.
func (r *Revoker) Revoke(ctx context.Context, rv Revocation) error {
	switch {
	case rv.ClientID != "":
		return r.RevokeGrant(ctx, rv.Subject, rv.ClientID, rv.IssuedBefore)
	case rv.Subject != "":
		return r.RevokeSubject(ctx, rv.Subject, rv.IssuedBefore)
	}
	return r.RevokeOrganization(ctx, rv.OrgID, rv.IssuedBefore)
}

// Handler serves an administrator's revocation requests (see
// ParseRevocation): 204 once done; 400 invalid_request for a body it
// cannot take; 503 temporarily_unavailable with Retry-After when the
// shared tier, the session store or the provider failed — the tokens are
// refused on this instance already, and a retry finishes the rest. It
// authorizes nobody: put it behind the middleware and a scope check, such
// as mw.Handler(mw.RequireScopes("manage:venues")(gate.Revoker().Handler())).
func (r *Revoker) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rv, err := ParseRevocation(req)
		if err == nil {
			err = r.Revoke(req.Context(), rv)
		}
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.Is(err, ErrBadRevocation):
			writeAdminError(w, http.StatusBadRequest, "invalid_request", err.Error())
		default:
			r.Authenticator.o.logger.Warn("authn: a revocation was not carried out everywhere", zap.Error(err))
			w.Header().Set("Retry-After", "5")
			writeAdminError(w, http.StatusServiceUnavailable, "temporarily_unavailable",
				"the revocation holds on this instance; the shared tier, the session store or the provider failed: retry")
		}
	})
}

func writeAdminError(w http.ResponseWriter, status int, code, description string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}
