package idptest_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// requestFor returns a request that endpoint e answers with 200.
func requestFor(t *testing.T, idp *idptest.Server, e idptest.Endpoint, accessToken string) *http.Request {
	t.Helper()
	var req *http.Request
	postForm := func(u string, f string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(f))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	switch e {
	case idptest.EndpointDiscovery:
		req, _ = http.NewRequest(http.MethodGet, idp.DiscoveryURL(), nil)
	case idptest.EndpointJWKS:
		req, _ = http.NewRequest(http.MethodGet, idp.JWKSURL(), nil)
	case idptest.EndpointToken:
		req = postForm(idp.TokenURL(), aliceLogin.Encode())
	case idptest.EndpointUserinfo:
		req, _ = http.NewRequest(http.MethodGet, idp.UserinfoURL(), nil)
		req.Header.Set("Authorization", "Bearer "+accessToken)
	case idptest.EndpointIntrospect:
		req = postForm(idp.IntrospectionURL(), form("token", accessToken).Encode())
		req.SetBasicAuth("venue-app", "venue-app-secret")
	case idptest.EndpointRevoke:
		req = postForm(idp.RevocationURL(), form("token", accessToken).Encode())
		req.SetBasicAuth("venue-app", "venue-app-secret")
	default:
		t.Fatalf("no request for %s", e)
	}
	return req
}

// shortClient gives up after 200 ms and never reuses a connection, so that
// Go's transport does not retry a dropped request.
func shortClient() *http.Client {
	return &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
}

func TestFaults(t *testing.T) {
	idp := start(t)
	tok := grant(t, idp, aliceLogin).str("access_token")
	endpoints := []idptest.Endpoint{idptest.EndpointDiscovery, idptest.EndpointJWKS, idptest.EndpointToken,
		idptest.EndpointUserinfo, idptest.EndpointIntrospect, idptest.EndpointRevoke}
	for _, e := range endpoints {
		for _, f := range []idptest.Fault{idptest.FaultError, idptest.FaultUnavailable, idptest.FaultHang, idptest.FaultDrop} {
			t.Run(string(e)+"/"+f.String(), func(t *testing.T) {
				idp.SetFault(e, f)
				idp.ResetCalls()
				resp, err := shortClient().Do(requestFor(t, idp, e, tok))
				if err == nil {
					defer resp.Body.Close()
				}
				switch f {
				case idptest.FaultError:
					if err != nil || resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/json" {
						t.Errorf("%v %v, want 500 with JSON", resp, err)
					}
				case idptest.FaultUnavailable:
					if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
						t.Errorf("%v %v, want 503 with Retry-After: 1", resp, err)
					}
				case idptest.FaultHang:
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						t.Errorf("%v %v, want a timeout", resp, err)
					}
				case idptest.FaultDrop:
					if err == nil || errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%v %v, want the connection closed at once", resp, err)
					}
				}
				if n := idp.Calls(e); n != 1 {
					t.Errorf("Calls(%s) = %d, want 1", e, n)
				}
				idp.SetFault(e, idptest.FaultNone)
				resp, err = shortClient().Do(requestFor(t, idp, e, tok))
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("after FaultNone: %v %v", resp, err)
				}
				resp.Body.Close()
			})
		}
	}
}

// waitForCall waits until e has received n requests.
func waitForCall(t *testing.T, idp *idptest.Server, e idptest.Endpoint, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for idp.Calls(e) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s received %d requests, want %d", e, idp.Calls(e), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHangEndsWhenTheFaultIsCleared(t *testing.T) {
	idp := start(t)
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultHang)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(idp.JWKSURL())
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waitForCall(t, idp, idptest.EndpointJWKS, 1)
	idp.SetFault(idptest.EndpointDiscovery, idptest.FaultError) // another endpoint: still hung
	select {
	case <-done:
		t.Fatal("the request was released by another endpoint's fault")
	case <-time.After(20 * time.Millisecond):
	}
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultUnavailable) // a hung request takes the new fault
	if status := <-done; status != 503 {
		t.Errorf("status %d, want 503", status)
	}
}

func TestCloseEndsHungRequests(t *testing.T) {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		t.Fatal(err)
	}
	idp.SetFault(idptest.EndpointToken, idptest.FaultHang)
	done := make(chan error, 1)
	go func() {
		resp, err := http.PostForm(idp.TokenURL(), aliceLogin)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitForCall(t, idp, idptest.EndpointToken, 1)
	closed := make(chan error, 1)
	go func() { closed <- idp.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hung request")
	}
	if err := <-done; err == nil {
		t.Error("the hung request got an answer")
	}
	if err := idp.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(idp.JWKSURL()); err == nil {
		t.Error("the server still answers after Close")
	}
}

func TestCalls(t *testing.T) {
	idp := start(t)
	for range 3 {
		get(t, idp.JWKSURL(), "")
	}
	get(t, idp.DiscoveryURL(), "")
	post(t, idp.TokenURL(), form("grant_type", "nope"))
	for e, want := range map[idptest.Endpoint]int{idptest.EndpointJWKS: 3, idptest.EndpointDiscovery: 1,
		idptest.EndpointToken: 1, idptest.EndpointUserinfo: 0, idptest.Endpoint("nope"): 0} {
		if got := idp.Calls(e); got != want {
			t.Errorf("Calls(%s) = %d, want %d", e, got, want)
		}
	}
	idp.ResetCalls()
	if got := idp.Calls(idptest.EndpointJWKS); got != 0 {
		t.Errorf("after ResetCalls: %d", got)
	}
}
