// Package cache stores validated-token results: an in-process tier and a
// shared memcached tier whose entries are authenticated with a MAC.
package cache
