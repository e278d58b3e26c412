package main

import "strings"

// publicURLOf is PUBLIC_URL, or the address the service listens on.
func publicURLOf(s settings, addr string) string {
	if s.publicURL != "" {
		return strings.TrimSuffix(s.publicURL, "/")
	}
	return "http://" + addr
}
