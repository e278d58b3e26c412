// Package doccheck holds the tests that keep the operator's documents
// (OPERATIONS.md and SECURITY.md at the module root) true to the code:
// every metric the code registers is named there and every metric named
// there exists, and every Go name they and the README cite (pkg.Name,
// pkg.Type.Member) is an exported name of that package.
package doccheck
